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

"""Which local processes hold a file open, and with which open flags."""

import dataclasses
import os

# Paths that a /proc fd link names without a leading '/' (socket:[..],
# pipe:[..], anon_inode:..) are never regular files; skipping them saves a
# stat per fd on a busy host.
_NOT_A_PATH = ('socket:', 'pipe:', 'anon_inode:')


@dataclasses.dataclass
class Holder:
    """One open file descriptor on the file."""

    pid: int
    fd: int
    flags: int
    pos: int
    comm: str | None = None

    @property
    def writer(self):
        return (self.flags & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)

    @property
    def append(self):
        return bool(self.flags & os.O_APPEND)

    def to_dict(self):
        return {'pid': self.pid, 'fd': self.fd, 'flags': '0%o' % self.flags,
                'pos': self.pos, 'writer': self.writer,
                'append': self.append, 'comm': self.comm}


@dataclasses.dataclass
class Scan:
    """Holders found, and how complete the search was.

    ``complete`` is False when some process could not be inspected
    (permission, hidepid): a writer may then exist that we did not see.
    """

    holders: list
    complete: bool = True
    unreadable_pids: list = dataclasses.field(default_factory=list)
    vanished: int = 0
    note: str | None = None

    @property
    def writers(self):
        return [h for h in self.holders if h.writer]

    def to_dict(self):
        return {'holders': [h.to_dict() for h in self.holders],
                'complete': self.complete,
                'unreadable_pids': len(self.unreadable_pids),
                'vanished': self.vanished, 'note': self.note}


def parse_fdinfo(text):
    """Return (flags, pos) from the text of /proc/<pid>/fdinfo/<fd>."""
    flags = pos = None
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key == 'flags':
            flags = int(value.strip(), 8)
        elif key == 'pos':
            pos = int(value.strip())
    if flags is None or pos is None:
        raise ValueError('fdinfo has no flags/pos')
    return flags, pos


def _read_small(path):
    with open(path, encoding='ascii', errors='replace') as f:
        return f.read(4096)


def _hidden_pids(proc):
    """True when /proc hides other users' processes from us."""
    if os.geteuid() == 0:
        return False
    try:
        with open(os.path.join(proc, 'self', 'mountinfo')) as f:
            for line in f:
                left, _, right = line.partition(' - ')
                fields, opts = left.split(), right.split()
                if len(fields) < 5 or fields[4] != proc or not opts:
                    continue
                for opt in opts[-1].split(','):
                    if opt.startswith('hidepid='):
                        return opt[len('hidepid='):] not in ('0', 'off')
    except OSError:
        return True
    return False


def scan(keys, proc='/proc', exclude_pids=None):
    """Find holders of any of ``keys`` ((st_dev, st_ino) pairs) in one pass.

    ``keys`` None collects every open regular file (one pass per sweep).

    Returns ({key: [Holder]}, Scan-without-holders). Processes and fds
    that vanish while we look are counted, not errors: exiting is normal.
    Our own process is excluded by default, since the caller holds the file.
    """
    keys = None if keys is None else set(keys)
    exclude = {os.getpid()} if exclude_pids is None else set(exclude_pids)
    found = {}
    status = Scan(holders=[])
    if _hidden_pids(proc):
        status.complete = False
        status.note = '%s is mounted with hidepid' % proc
    try:
        entries = list(os.scandir(proc))
    except OSError as exc:
        status.complete = False
        status.note = 'cannot list %s: %s' % (proc, exc)
        return found, status
    for entry in entries:
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid in exclude:
            continue
        fd_dir = os.path.join(proc, entry.name, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except (FileNotFoundError, ProcessLookupError):
            status.vanished += 1
            continue
        except PermissionError:
            status.unreadable_pids.append(pid)
            continue
        except OSError:
            status.vanished += 1
            continue
        for name in fds:
            link = os.path.join(fd_dir, name)
            try:
                target = os.readlink(link)
                if target.startswith(_NOT_A_PATH):
                    continue
                # stat through the magic link reaches the open inode even
                # when its path was unlinked or renamed.
                st = os.stat(link)
            except PermissionError:
                status.unreadable_pids.append(pid)
                break
            except OSError:
                status.vanished += 1
                continue
            key = (st.st_dev, st.st_ino)
            if keys is not None and key not in keys:
                continue
            try:
                flags, pos = parse_fdinfo(_read_small(
                    os.path.join(proc, entry.name, 'fdinfo', name)))
            except PermissionError:
                status.unreadable_pids.append(pid)
                continue
            except (OSError, ValueError):
                status.vanished += 1
                continue
            try:
                comm = _read_small(
                    os.path.join(proc, entry.name, 'comm')).strip()
            except OSError:
                comm = None
            found.setdefault(key, []).append(
                Holder(pid=pid, fd=int(name), flags=flags, pos=pos,
                       comm=comm))
    if status.unreadable_pids:
        status.complete = False
        status.note = status.note or (
            '%d process(es) could not be inspected'
            % len(status.unreadable_pids))
    return found, status


def find_holders(st_dev, st_ino, proc='/proc', exclude_pids=None):
    """Return a Scan of the processes holding one file open."""
    found, status = scan({(st_dev, st_ino)}, proc=proc,
                         exclude_pids=exclude_pids)
    status.holders = found.get((st_dev, st_ino), [])
    return status
