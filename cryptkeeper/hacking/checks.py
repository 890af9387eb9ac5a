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

"""House rules that ruff and hacking do not know."""

import re

from hacking import core

_EVENTLET = re.compile(r'^\s*(import|from)\s+eventlet\b')
_LIBRARY = re.compile(r'cryptkeeper/(purge|imagecache|consolelog)/')
_SERVICE_IMPORT = re.compile(
    r'^\s*(import|from)\s+(pecan\b|wsme|cryptkeeper\.(api|worker|agent)\b)')


@core.flake8ext
def no_eventlet(logical_line, filename):
    """C301: cryptkeeper uses native threads; eventlet is not allowed."""
    if _EVENTLET.match(logical_line):
        yield 0, 'C301: do not import eventlet; use native threads'


@core.flake8ext
def libraries_stay_libraries(logical_line, filename):
    """C302: purge/, imagecache/, consolelog/ never import a service."""
    if _LIBRARY.search(filename) and _SERVICE_IMPORT.match(logical_line):
        yield 0, ('C302: library modules must not import the API, worker, '
                  'agent or pecan')
