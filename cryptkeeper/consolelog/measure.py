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

"""Sizes, growth and owners of console logs; symlinks are never followed."""

import dataclasses
import datetime
import os
import stat
from xml.parsers import expat

from oslo_utils import uuidutils

from cryptkeeper.common import fileutils
from cryptkeeper.consolelog import backup
from cryptkeeper.consolelog import fdinfo

LOG_NAME = backup.LOG_NAME
NOVA_NS = 'http://openstack.org/xmlns/libvirt/nova/'
# libvirt.xml is a few KiB; anything far larger is not Nova's file.
MAX_XML_BYTES = 1 << 20
# Growth is computed over the samples of this last window.
DEFAULT_WINDOW = 3600


@dataclasses.dataclass
class Sample:
    """One earlier measurement of a log, supplied by the caller."""

    at: float
    apparent_bytes: int


@dataclasses.dataclass
class InstanceLog:
    """What one sweep saw of one instance's console log."""

    instance: str
    path: str
    exists: bool = False
    apparent_bytes: int = 0
    allocated_bytes: int = 0
    blksize: int | None = None
    mtime: float | None = None
    dev_ino: tuple | None = None
    project: str | None = None
    project_note: str | None = None
    rotated: list = dataclasses.field(default_factory=list)
    growth_bytes_per_hour: float | None = None
    runaway: bool = False
    holders: dict | None = None
    problems: list = dataclasses.field(default_factory=list)
    sampled_at: float | None = None

    @property
    def rotated_apparent_bytes(self):
        return sum(r['apparent_bytes'] for r in self.rotated)

    @property
    def rotated_allocated_bytes(self):
        return sum(r['allocated_bytes'] for r in self.rotated)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['dev_ino'] = list(self.dev_ino) if self.dev_ino else None
        data['rotated_apparent_bytes'] = self.rotated_apparent_bytes
        data['rotated_allocated_bytes'] = self.rotated_allocated_bytes
        return data


class _Refused(Exception):
    pass


def parse_project(data):
    """Return Nova's owner project uuid from libvirt.xml bytes, or None.

    expat is used directly so a DOCTYPE, and with it every entity
    declaration (billion laughs, external entities), is refused outright
    instead of expanded. Raises ValueError when the XML is unusable.
    """
    parser = expat.ParserCreate(namespace_separator=' ')
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    found = []
    stack = []

    def refuse(*args):
        raise _Refused('DOCTYPE or entity declarations are not accepted')

    def start(name, attrs):
        uri, _, local = name.rpartition(' ')
        nova = uri.startswith(NOVA_NS)
        if (nova and local == 'project' and stack
                and stack[-1] == 'owner' and not found):
            found.append(attrs.get('uuid'))
        stack.append(local if nova else None)

    def end(name):
        stack.pop()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except (_Refused, expat.ExpatError) as exc:
        raise ValueError(str(exc)) from exc
    if found and found[0]:
        return found[0]
    return None


def read_project(dir_fd):
    """Return (project or None, note) from <instance>/libvirt.xml."""
    try:
        fd = os.open('libvirt.xml', os.O_RDONLY | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None, 'libvirt.xml absent'
    except OSError as exc:
        # ELOOP: it is a symlink, which we never follow.
        return None, 'libvirt.xml unreadable: %s' % exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, 'libvirt.xml is not a regular file'
        data = os.read(fd, MAX_XML_BYTES + 1)
    except OSError as exc:
        return None, 'libvirt.xml unreadable: %s' % exc
    finally:
        os.close(fd)
    if len(data) > MAX_XML_BYTES:
        return None, 'libvirt.xml larger than %d bytes' % MAX_XML_BYTES
    try:
        project = parse_project(data)
    except ValueError as exc:
        return None, 'libvirt.xml unparseable: %s' % exc
    if project is None:
        return None, 'libvirt.xml has no nova:owner/nova:project'
    return project, None


def growth_rate(samples, window=DEFAULT_WINDOW):
    """Bytes per hour over the samples of the last ``window`` seconds.

    Only increases count: a drop means the log was cut (by us or by
    virtlogd's rotation), and the bytes written since are the growth.
    Returns None with fewer than two samples in the window.
    """
    points = sorted((s.at, s.apparent_bytes) for s in samples)
    if not points:
        return None
    newest = points[-1][0]
    points = [p for p in points if p[0] >= newest - window]
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    grown = sum(max(0, later[1] - earlier[1])
                for earlier, later in zip(points, points[1:], strict=False))
    return grown * 3600.0 / (points[-1][0] - points[0][0])


def _file_info(st):
    return {'apparent_bytes': st.st_size,
            'allocated_bytes': st.st_blocks * 512}


def measure_instance(root_fd, instances_dir, name, previous=(),
                     now=None, window=DEFAULT_WINDOW,
                     runaway_bytes_per_hour=None):
    """Measure one instance directory, opened relative to root_fd."""
    now = now if now is not None else datetime.datetime.now(
        datetime.timezone.utc).timestamp()
    rec = InstanceLog(instance=name, sampled_at=now,
                      path=os.path.join(instances_dir, name, LOG_NAME))
    try:
        dir_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, dir_fd=root_fd)
    except OSError as exc:
        rec.problems.append('instance directory unreadable: %s' % exc)
        return rec
    try:
        rec.project, rec.project_note = read_project(dir_fd)
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                if entry.name != LOG_NAME and not (
                        backup.ROTATED_RE.match(entry.name)
                        or backup.BACKUP_RE.match(entry.name)):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    rec.problems.append('%s vanished or unreadable: %s'
                                        % (entry.name, exc))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    rec.problems.append('%s is %s; skipped' % (
                        entry.name, fileutils.describe_mode(st.st_mode)))
                    continue
                if entry.name == LOG_NAME:
                    rec.exists = True
                    rec.apparent_bytes = st.st_size
                    rec.allocated_bytes = st.st_blocks * 512
                    rec.blksize = st.st_blksize
                    rec.mtime = st.st_mtime
                    rec.dev_ino = (st.st_dev, st.st_ino)
                else:
                    info = _file_info(st)
                    info['name'] = entry.name
                    info['backup'] = bool(backup.BACKUP_RE.match(entry.name))
                    rec.rotated.append(info)
    except OSError as exc:
        rec.problems.append('instance directory unreadable: %s' % exc)
    finally:
        os.close(dir_fd)
    rec.rotated.sort(key=lambda r: r['name'])
    if rec.exists:
        samples = list(previous) + [Sample(now, rec.apparent_bytes)]
        rec.growth_bytes_per_hour = growth_rate(samples, window)
        rec.runaway = bool(
            runaway_bytes_per_hour is not None
            and rec.growth_bytes_per_hour is not None
            and rec.growth_bytes_per_hour > runaway_bytes_per_hour)
    return rec


def scan(instances_dir, previous=None, runaway_bytes_per_hour=None,
         now=None, window=DEFAULT_WINDOW, with_holders=False,
         proc='/proc', ignore_pids=()):
    """Yield an InstanceLog for every <uuid>/ directory, one at a time.

    ``previous`` maps instance uuid -> [Sample] from earlier sweeps (the
    caller keeps them; this library stores nothing). Non-UUID entries
    (_base, locks, compute_nodes, *_resize) are not instances and are
    skipped; a UUID-named symlink is reported, never followed.
    With ``with_holders``, one pass over /proc finds who holds each log.
    """
    previous = previous or {}
    holders = status = None
    if with_holders:
        holders, status = fdinfo.scan(
            None, proc=proc, exclude_pids={os.getpid(), *ignore_pids})
    root_fd = os.open(instances_dir, os.O_RDONLY | os.O_DIRECTORY
                      | os.O_CLOEXEC)
    try:
        with os.scandir(root_fd) as entries:
            for entry in entries:
                if not uuidutils.is_uuid_like(entry.name):
                    continue
                if entry.is_symlink():
                    rec = InstanceLog(
                        instance=entry.name, sampled_at=now if now
                        is not None else datetime.datetime.now(
                            datetime.timezone.utc).timestamp(),
                        path=os.path.join(instances_dir, entry.name,
                                          LOG_NAME))
                    rec.problems.append('instance directory is a symlink; '
                                        'not followed')
                    yield rec
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    continue
                rec = measure_instance(
                    root_fd, instances_dir, entry.name,
                    previous=previous.get(entry.name, ()), now=now,
                    window=window,
                    runaway_bytes_per_hour=runaway_bytes_per_hour)
                if with_holders and rec.dev_ino:
                    found = holders.get(rec.dev_ino, [])
                    rec.holders = {
                        'holders': [h.to_dict() for h in found],
                        'complete': status.complete, 'note': status.note}
                yield rec
    finally:
        os.close(root_fd)
