# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Helpers for code that must judge files it will not follow or open."""

import stat


_KINDS = ((stat.S_ISLNK, 'a symlink'),
          (stat.S_ISDIR, 'a directory'),
          (stat.S_ISFIFO, 'a FIFO'),
          (stat.S_ISSOCK, 'a socket'),
          (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'))


def describe_mode(mode):
    """Say in words what kind of file an ``st_mode`` is, for reasons."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return 'not a regular file'
