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

"""Scanning one instances directory: base files and every disk's chain."""

import dataclasses
import errno
import json
import os
import stat
import sys
import time

from cryptkeeper.common import fileutils
from cryptkeeper.imagecache import basefiles
from cryptkeeper.imagecache import qcow2

DEFAULT_BASE_SUBDIRECTORY = '_base'
DISK_PREFIX = 'disk'
DISK_INFO = 'disk.info'
# Entries of an instances directory that Nova itself makes and that hold
# no instance: its lock directory, its storage-users registry and the
# libvirt snapshot scratch directory. Hidden entries are skipped too.
SPECIAL_ENTRIES = frozenset({'locks', 'compute_nodes', 'snapshots'})
# Nova builds chains one or two deep; a longer one is most likely a loop
# through names we do not recognise, or hostile, so we stop and report.
MAX_CHAIN_DEPTH = 16
# disk.info holds one short line per disk; anything larger is not Nova's.
MAX_DISK_INFO_BYTES = 1024 * 1024

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_MISSING = object()


def display(path):
    """A printable form of a path, keeping non-UTF-8 bytes as escapes."""
    return os.fsencode(path).decode('utf-8', 'backslashreplace')


def _is_utf8(name):
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc):
    if isinstance(exc, FileNotFoundError):
        return 'vanished during the scan'
    if isinstance(exc, PermissionError):
        return 'permission denied'
    if exc.errno == errno.ELOOP:
        return 'is a symlink; not followed'
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _dir_reason(exc, name, dir_fd):
    # O_DIRECTORY|O_NOFOLLOW reports a symlink as ENOTDIR or ELOOP; say
    # which it is, since a symlink is the case an operator must look at.
    if exc.errno in (errno.ENOTDIR, errno.ELOOP):
        try:
            mode = os.stat(name, dir_fd=dir_fd,
                           follow_symlinks=False).st_mode
        except OSError as again:
            return _os_reason(again)
        return '%s; not followed' % fileutils.describe_mode(mode)
    return _os_reason(exc)


@dataclasses.dataclass(slots=True)
class Problem:
    """Something the scan could not read or will not trust."""

    path: str
    reason: str


@dataclasses.dataclass(slots=True)
class BaseFile:
    """A regular file in the base directory."""

    name: str
    kind: str
    size: int
    mtime: float
    referenced_by: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class Disk:
    """One disk of an instance and the backing chain read from it.

    ``chain`` holds the resolved backing paths, nearest first;
    ``base_files`` the base file names among them; ``missing`` base
    names the chain reaches that are not in the base directory.
    """

    name: str
    format: str | None = None
    declared_format: str | None = None
    # Tuples, empty ones shared: tens of thousands of disks are kept.
    chain: tuple = ()
    base_files: tuple = ()
    missing: tuple = ()
    problems: tuple = ()


@dataclasses.dataclass(slots=True)
class Instance:
    """One directory of the instances directory and its disks."""

    name: str
    disks: list = dataclasses.field(default_factory=list)
    disk_info: dict | None = None


@dataclasses.dataclass
class ScanResult:
    """Everything one scan saw; any problem makes the storage uncertain.

    ``references`` maps every base name a chain reaches, present in the
    base directory or not, to the disks (``instance/disk``) reaching it.
    """

    instances_path: str
    base_subdirectory: str
    started_at: float = 0.0
    finished_at: float = 0.0
    base_files: dict = dataclasses.field(default_factory=dict)
    instances: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)
    references: dict = dataclasses.field(default_factory=dict)
    instance_count: int = 0
    disk_count: int = 0

    @property
    def uncertain(self):
        return bool(self.problems)

    def to_dict(self):
        return dataclasses.asdict(self)


class Scanner:
    """Scan one instances directory ("a storage").

    Reads only: lists the base directory, every instance directory and
    the qcow2 header of every disk and base file a chain reaches. It
    never follows a symlink and never leaves the storage: a backing
    file outside the base directory is a problem, not a path to read.

    ``aliases`` are other paths of the same instances directory (as
    another host mounts it) that backing names may use. With
    ``keep_instances`` False, per-instance details are not kept, which
    bounds memory to the base files and references.
    """

    def __init__(self, instances_path,
                 base_subdirectory=DEFAULT_BASE_SUBDIRECTORY, aliases=(),
                 max_chain_depth=MAX_CHAIN_DEPTH,
                 special_entries=SPECIAL_ENTRIES, keep_instances=True):
        if (not base_subdirectory or '/' in base_subdirectory
                or base_subdirectory in ('.', '..')):
            raise ValueError('base_subdirectory must be one directory '
                             'name, not %r' % base_subdirectory)
        self.root = os.path.abspath(instances_path)
        self.base_subdirectory = base_subdirectory
        self.base_path = os.path.join(self.root, base_subdirectory)
        self.max_chain_depth = max_chain_depth
        self.special_entries = frozenset(special_entries)
        self.keep_instances = keep_instances
        roots = {self.root, os.path.realpath(self.root)}
        roots.update(os.path.abspath(alias) for alias in aliases)
        self._base_dirs = frozenset(
            os.path.normpath(os.path.join(r, base_subdirectory))
            for r in roots)
        self._base_info = {}
        self._names = {}

    def on_entry(self, kind, path):
        """Called after an entry is listed and before it is read.

        ``kind`` is ``base``, ``instance``, ``disk``, ``disk.info`` or
        ``backing``. A no-op; subclasses use it to trace a scan or to
        change the directory under it (tests of vanishing files).
        """

    def scan(self):
        result = ScanResult(instances_path=self.root,
                            base_subdirectory=self.base_subdirectory,
                            started_at=time.time())
        self._base_info = {}
        self._names = {}
        try:
            root_fd = os.open(self.root, _DIR_FLAGS)
        except OSError as exc:
            self._problem(result, self.root, 'cannot open the instances '
                          'directory: %s' % _os_reason(exc))
            result.finished_at = time.time()
            return result
        try:
            base_fd = self._open_base(root_fd, result)
            try:
                if base_fd is not None:
                    self._scan_base(base_fd, result)
                self._scan_instances(root_fd, base_fd, result)
            finally:
                if base_fd is not None:
                    os.close(base_fd)
        finally:
            os.close(root_fd)
        for name, referrers in result.references.items():
            base = result.base_files.get(name)
            if base is not None:
                base.referenced_by = referrers
        self._base_info = {}
        self._names = {}
        result.finished_at = time.time()
        return result

    @staticmethod
    def _problem(result, path, reason):
        result.problems.append(Problem(display(path), reason))

    def _open_base(self, root_fd, result):
        try:
            return os.open(self.base_subdirectory,
                           _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root_fd)
        except FileNotFoundError:
            # No cache yet: nothing to judge, and chains that name a base
            # file still count as references to it.
            return None
        except OSError as exc:
            self._problem(result, self.base_path,
                          'cannot open the base directory: %s'
                          % _dir_reason(exc, self.base_subdirectory,
                                        root_fd))
            return None

    def _scan_base(self, base_fd, result):
        try:
            with os.scandir(base_fd) as entries:
                for entry in entries:
                    self._base_entry(entry, result)
        except OSError as exc:
            self._problem(result, self.base_path, 'listing failed: %s'
                          % _os_reason(exc))

    def _base_entry(self, entry, result):
        name = entry.name
        # Hidden entries are ours (the quarantine folder) or temporary
        # files; Nova names no base file with a leading dot.
        if name.startswith('.'):
            return
        path = os.path.join(self.base_path, name)
        self.on_entry('base', path)
        if not _is_utf8(name):
            self._problem(result, path, 'file name is not valid UTF-8')
            return
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            self._problem(result, path, _os_reason(exc))
            return
        if not stat.S_ISREG(st.st_mode):
            self._problem(result, path, 'not a regular file: %s; not '
                          'followed' % fileutils.describe_mode(st.st_mode))
            return
        kind = basefiles.classify(name).kind
        result.base_files[name] = BaseFile(name=name, kind=kind,
                                           size=st.st_size,
                                           mtime=st.st_mtime)

    def _skip_top_entry(self, name):
        return (name == self.base_subdirectory or name.startswith('.')
                or name in self.special_entries)

    def _scan_instances(self, root_fd, base_fd, result):
        try:
            with os.scandir(root_fd) as entries:
                for entry in entries:
                    if self._skip_top_entry(entry.name):
                        continue
                    self._top_entry(root_fd, base_fd, entry, result)
        except OSError as exc:
            self._problem(result, self.root, 'listing failed: %s'
                          % _os_reason(exc))

    def _top_entry(self, root_fd, base_fd, entry, result):
        name = entry.name
        path = os.path.join(self.root, name)
        self.on_entry('instance', path)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            self._problem(result, path, _os_reason(exc))
            return
        if stat.S_ISREG(st.st_mode):
            # Plain files beside instance directories (registry, marker,
            # notes) hold no disks.
            return
        if not stat.S_ISDIR(st.st_mode):
            kind = fileutils.describe_mode(st.st_mode)
            self._problem(result, path, '%s where an instance directory '
                          'may be; not followed' % kind)
            return
        if not _is_utf8(name):
            # Still scanned: its disks may reference base files.
            self._problem(result, path, 'directory name is not valid UTF-8')
        self._scan_instance(root_fd, base_fd, name, path, result)

    def _scan_instance(self, root_fd, base_fd, name, path, result):
        try:
            inst_fd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW,
                              dir_fd=root_fd)
        except OSError as exc:
            self._problem(result, path, _dir_reason(exc, name, root_fd))
            return
        instance = Instance(name=display(name))
        result.instance_count += 1
        try:
            disk_entries = []
            has_info = False
            try:
                with os.scandir(inst_fd) as entries:
                    for entry in entries:
                        if entry.name == DISK_INFO:
                            has_info = True
                        elif entry.name.startswith(DISK_PREFIX):
                            disk_entries.append(entry)
            except OSError as exc:
                self._problem(result, path, 'listing failed: %s'
                              % _os_reason(exc))
            if has_info:
                instance.disk_info = self._read_disk_info(
                    inst_fd, path, result)
            for entry in disk_entries:
                disk = self._scan_disk(inst_fd, base_fd, instance, entry,
                                       path, result)
                if disk is not None:
                    instance.disks.append(disk)
        finally:
            os.close(inst_fd)
        if self.keep_instances:
            result.instances.append(instance)

    def _read_disk_info(self, inst_fd, inst_path, result):
        path = os.path.join(inst_path, DISK_INFO)
        self.on_entry('disk.info', path)
        try:
            fd, st = qcow2.open_regular(DISK_INFO, dir_fd=inst_fd)
        except qcow2.InvalidImage as exc:
            self._problem(result, path, exc.reason)
            return None
        except OSError as exc:
            self._problem(result, path, _os_reason(exc))
            return None
        try:
            if st.st_size > MAX_DISK_INFO_BYTES:
                self._problem(result, path, 'larger than %d bytes'
                              % MAX_DISK_INFO_BYTES)
                return None
            raw = os.pread(fd, MAX_DISK_INFO_BYTES + 1, 0)
        except OSError as exc:
            self._problem(result, path, _os_reason(exc))
            return None
        finally:
            os.close(fd)
        try:
            info = json.loads(raw)
        except ValueError as exc:
            self._problem(result, path, 'not valid JSON: %s' % exc)
            return None
        if not isinstance(info, dict) or not all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in info.items()):
            self._problem(result, path, 'not a JSON object of disk path '
                          'to format')
            return None
        return info

    @staticmethod
    def _declared_format(disk_info, disk_name):
        # Nova keys disk.info by the disk's absolute path as that host
        # saw it; the file name is what identifies the disk here.
        if not disk_info:
            return None
        for key, fmt in disk_info.items():
            if os.path.basename(key) == disk_name:
                return fmt
        return None

    def _scan_disk(self, inst_fd, base_fd, instance, entry, inst_path,
                   result):
        name = entry.name
        path = os.path.join(inst_path, name)
        self.on_entry('disk', path)
        disk = Disk(name=sys.intern(display(name)))
        referrer = '%s/%s' % (instance.name, disk.name)
        disk.declared_format = self._declared_format(instance.disk_info,
                                                     name)

        def problem(reason):
            disk.problems += (reason,)
            self._problem(result, path, reason)

        try:
            fd, _st = qcow2.open_regular(name, dir_fd=inst_fd)
        except qcow2.InvalidImage as exc:
            problem('%s; not read' % exc.reason)
            return disk
        except OSError as exc:
            problem(_os_reason(exc))
            return disk
        result.disk_count += 1
        try:
            info = qcow2.read_fd(fd)
        except qcow2.InvalidImage as exc:
            problem('unreadable image header: %s' % exc.reason)
            return disk
        except OSError as exc:
            problem('cannot read the image header: %s' % _os_reason(exc))
            return disk
        finally:
            os.close(fd)
        disk.format = info.format
        if disk.declared_format == 'qcow2' and info.format != 'qcow2':
            problem('disk.info says qcow2 but the file has no qcow2 header')
        self._follow_chain(base_fd, info, inst_path, path, disk, referrer,
                           problem, result)
        return disk

    def _follow_chain(self, base_fd, info, directory, path, disk, referrer,
                      problem, result):
        visited = {path}
        depth = 0
        while True:
            if info.data_file is not None:
                problem('has an external data file %r; not supported'
                        % info.data_file)
                return
            if not info.backing_file:
                return
            depth += 1
            if depth > self.max_chain_depth:
                problem('backing chain deeper than %d; not followed further'
                        % self.max_chain_depth)
                return
            base_name, reason = self._resolve(info.backing_file, directory)
            if reason:
                problem('backing file %r %s; not followed'
                        % (info.backing_file, reason))
                return
            backing_path = os.path.join(self.base_path, base_name)
            if backing_path in visited:
                problem('backing chain loops back to %s' % display(
                    backing_path))
                return
            visited.add(backing_path)
            info = self._read_base(base_fd, base_name)
            # Shared strings: every disk on one base names the same file.
            base_name, shown = self._names[base_name]
            disk.chain += (shown,)
            disk.base_files += (base_name,)
            result.references.setdefault(base_name, []).append(referrer)
            if info is _MISSING:
                disk.missing += (base_name,)
                return
            if isinstance(info, str):
                problem('backing file %s: %s' % (display(backing_path),
                                                 info))
                return
            directory = self.base_path

    def _resolve(self, backing, directory):
        """Map a backing name to a base file name, or say why not."""
        name = backing
        if name.startswith('file:'):
            name = name[len('file:'):]
        elif ':' in name.split('/', 1)[0]:
            return None, 'uses a protocol prefix'
        if not name:
            return None, 'is empty'
        parts = name.split('/')
        if name.startswith('/'):
            if '..' in parts:
                return None, "has a '..' component"
            full = os.path.normpath(name)
        else:
            # Leading '..' climb from a directory we opened without
            # following symlinks, so they mean what they say; a '..'
            # later could climb out through a symlinked component.
            leading = 0
            while leading < len(parts) and parts[leading] == '..':
                leading += 1
            if '..' in parts[leading:]:
                return None, "has a '..' after a directory name"
            start = directory
            for _ in range(leading):
                start = os.path.dirname(start)
            full = os.path.normpath(os.path.join(start, *parts[leading:]))
        parent, base_name = os.path.split(full)
        if parent not in self._base_dirs or not base_name:
            return None, 'is outside %s' % display(self.base_path)
        return base_name, None

    def _read_base(self, base_fd, base_name):
        """ImageInfo of a base file, _MISSING, or a reason it is unusable.

        Cached: thousands of disks share a few base files.
        """
        cached = self._base_info.get(base_name)
        if cached is not None:
            return cached
        path = os.path.join(self.base_path, base_name)
        self._names[base_name] = (base_name, display(path))
        self.on_entry('backing', path)
        if base_fd is None:
            value = _MISSING
        else:
            try:
                value = qcow2.read_image_info(base_name, dir_fd=base_fd)
            except FileNotFoundError:
                value = _MISSING
            except qcow2.InvalidImage as exc:
                value = exc.reason
            except OSError as exc:
                value = _os_reason(exc)
        self._base_info[base_name] = value
        return value


def scan(instances_path, base_subdirectory=DEFAULT_BASE_SUBDIRECTORY,
         **kwargs):
    """Scan one instances directory; see Scanner."""
    return Scanner(instances_path, base_subdirectory, **kwargs).scan()
