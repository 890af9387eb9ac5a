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

"""Small JSON state files of the agent, replaced atomically."""

import json
import os

from oslo_log import log

LOG = log.getLogger(__name__)


def load(path):
    """Return the state stored at ``path``, or {} when there is none.

    A file that cannot be parsed (a crash mid-write cannot cause one, the
    writes are atomic; a full disk or a hand edit can) is kept aside for
    inspection and the agent starts afresh: it only loses growth samples.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        aside = path + '.corrupt'
        LOG.warning('Agent state %s is unreadable (%s); moved to %s and '
                    'starting afresh', path, exc, aside)
        try:
            os.replace(path, aside)
        except OSError:
            pass
        return {}
    return data if isinstance(data, dict) else {}


def save(path, data):
    """Write ``data`` as JSON: temporary file, fsync, rename, fsync dir."""
    directory = os.path.dirname(path) or '.'
    tmp = '%s.tmp.%d' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                 0o600)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(data, f, separators=(',', ':'), sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
