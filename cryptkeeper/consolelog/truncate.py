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

"""Keeping the tail of a console log with the safest method the file allows."""

import ctypes
import dataclasses
import datetime
import errno
import fcntl
import os
import stat

from cryptkeeper.common import fileutils
from cryptkeeper.consolelog import backup
from cryptkeeper.consolelog import fdinfo
from cryptkeeper.consolelog import policy as policy_mod

LOG_NAME = backup.LOG_NAME
# linux/falloc.h
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08

COLLAPSE = 'collapse_range'
PUNCH = 'punch_hole'
COPY = 'copy_truncate'
METHODS = (COLLAPSE, PUNCH, COPY)

# Actions in a result.
NONE = 'none'
PLANNED = 'planned'
CUT = 'cut'
REFUSED = 'refused'
SKIPPED = 'skipped'
ERROR = 'error'

# Written over the partial line that block alignment leaves at the start
# of a collapsed log, so a reader never sees half a line (see _cut_plan).
MARKER = b'[cryptkeeper: console log head removed]'
_CHUNK = 1 << 20
_TAIL_TMP = '.console.log.cryptkeeper-tail.tmp'
_UNSUPPORTED = (errno.EOPNOTSUPP, errno.ENOSYS)

_libc = ctypes.CDLL(None, use_errno=True)
_fallocate = getattr(_libc, 'fallocate64', _libc.fallocate)
_fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                       ctypes.c_int64)
_fallocate.restype = ctypes.c_int


def fallocate(fd, mode, offset, length):
    """fallocate(2) with mode flags, which os.posix_fallocate lacks."""
    if _fallocate(fd, mode, offset, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclasses.dataclass
class Result:
    """What enforcement decided and did for one console log."""

    instance: str
    path: str
    policy: str | None = None
    mode: str = policy_mod.REPORT
    action: str = NONE
    method: str | None = None
    reason: str = ''
    error: str | None = None
    apparent_before: int | None = None
    allocated_before: int | None = None
    apparent_after: int | None = None
    allocated_after: int | None = None
    content_start: int | None = None
    cut_offset: int | None = None
    freed_offset: int | None = None
    line_boundary: bool | None = None
    bytes_removed: int = 0
    backup: str | None = None
    backup_bytes: int | None = None
    bytes_at_risk: int | None = None
    bytes_read: int = 0
    bytes_written: int = 0
    holders: list = dataclasses.field(default_factory=list)
    holders_complete: bool | None = None
    notes: list = dataclasses.field(default_factory=list)
    pruned_backups: list = dataclasses.field(default_factory=list)

    def to_dict(self):
        return dataclasses.asdict(self)


class _Stop(Exception):
    """Ends enforcement early with an action and a reason."""

    def __init__(self, action, reason, error=None):
        super().__init__(reason)
        self.action = action
        self.reason = reason
        self.error = error


def _errname(exc):
    return errno.errorcode.get(getattr(exc, 'errno', None) or 0,
                               type(exc).__name__)


def _content_start(fd, size, res):
    """First byte of real content: past any punched hole and its zeros.

    A punched head reads as NUL bytes; console text has none, so the
    first non-NUL byte is where the previous cut left the log.
    """
    try:
        offset = os.lseek(fd, 0, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return size
        offset = 0
    while offset < size:
        data = os.pread(fd, min(65536, size - offset), offset)
        res.bytes_read += len(data)
        if not data:
            return offset
        stripped = data.lstrip(b'\0')
        if stripped:
            return offset + len(data) - len(stripped)
        offset += len(data)
    return size


def _line_start(fd, size, keep, res):
    """Offset of the first whole line within the last ``keep`` bytes.

    Keeps at most ``keep`` bytes: the cut moves forward to just after the
    first newline at or after size - keep. A newline only as the last byte
    (or none at all) means the tail is one unfinished line; the cut then
    stays at size - keep, mid-line, and line_boundary is False.
    """
    start = size - keep
    if start <= 0:
        return 0, True
    offset = start - 1
    while offset < size - 1:
        data = os.pread(fd, min(65536, size - 1 - offset), offset)
        res.bytes_read += len(data)
        if not data:
            break
        found = data.find(b'\n')
        if found >= 0:
            return offset + found + 1, True
        offset += len(data)
    return start, False


def _marker(length):
    """Filler for a partial line of ``length`` bytes ending in newline."""
    text = MARKER[:max(0, length - 1)]
    return text + b' ' * (length - 1 - len(text)) + b'\n'


def _same(st, other):
    return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


def _plan(scan, remote_writers_possible, allowed):
    """Order the methods that are safe for the writers we know of."""
    non_append = [h for h in scan.writers if not h.append]
    if non_append:
        who = ', '.join('pid %d (%s) pos %d' % (h.pid, h.comm, h.pos)
                        for h in non_append)
        why = ('writer without O_APPEND (%s): punch a hole so its offset '
               'stays valid; copy-truncate would leave a hole up to its '
               'offset' % who)
        order = [PUNCH]
    elif not scan.complete or remote_writers_possible:
        why = ('writers not fully known (%s): punch a hole, which is safe '
               'for any writer' % (scan.note or 'shared storage'))
        order = [PUNCH]
    elif scan.writers:
        why = 'every writer appends (O_APPEND): collapse the head in place'
        order = list(METHODS)
    else:
        why = 'no process holds the file for writing: collapse the head'
        order = list(METHODS)
    return [m for m in order if m in allowed], why


def enforce(instances_dir, instance, policy, now=None, methods=METHODS,
            remote_writers_possible=False, proc='/proc', ignore_pids=(),
            checkpoint=None):
    """Apply ``policy`` to <instances_dir>/<instance>/console.log.

    Never raises for anything found on disk: every outcome, including
    refusals and I/O errors, comes back as a Result. ``policy.mode``
    ``report`` decides without changing anything. ``methods`` restricts
    the methods tried (benchmarks, and filesystems known to misbehave).
    ``remote_writers_possible``: on shared storage a writer on another host
    is invisible in our /proc, so only punch-hole (safe for any writer) is
    used. ``ignore_pids`` are processes known not to write console logs
    that even root cannot inspect (a container's init); any other process
    we cannot inspect makes the holder list incomplete, and then only
    punch-hole is used. ``checkpoint(stage)`` is called between steps;
    tests use it to change the disk at exact points.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    res = Result(instance=instance, policy=policy.name, mode=policy.mode,
                 path=os.path.join(instances_dir, instance, LOG_NAME))
    fds = []
    try:
        _enforce(instances_dir, instance, policy, now, methods,
                 remote_writers_possible, proc, ignore_pids,
                 checkpoint or (lambda s: 0), res, fds)
    except _Stop as stop:
        res.action, res.reason = stop.action, stop.reason
        res.error = stop.error
    except OSError as exc:
        res.action = ERROR
        res.error = _errname(exc)
        res.reason = '%s: %s' % (res.reason or 'enforcement failed', exc)
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return res


def _open_dirs(instances_dir, instance, fds):
    if (not instance or os.sep in instance or instance in ('.', '..')
            or instance.startswith('.')):
        raise _Stop(REFUSED, 'instance %r is not a directory name'
                    % instance)
    try:
        root_fd = os.open(instances_dir, os.O_RDONLY | os.O_DIRECTORY
                          | os.O_CLOEXEC)
        fds.append(root_fd)
        dir_fd = os.open(instance, os.O_RDONLY | os.O_DIRECTORY
                         | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd)
        fds.append(dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR or exc.errno == errno.ELOOP:
            raise _Stop(REFUSED, 'instance directory is a symlink or not '
                        'a directory; not followed', _errname(exc)) from None
        raise _Stop(ERROR, 'cannot open instance directory: %s' % exc,
                    _errname(exc)) from None
    return dir_fd


def _open_log(dir_fd, writable, fds):
    try:
        lst = os.stat(LOG_NAME, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise _Stop(NONE, 'no console.log') from None
    if not stat.S_ISREG(lst.st_mode):
        raise _Stop(REFUSED, 'console.log is %s; not touched'
                    % fileutils.describe_mode(lst.st_mode))
    # O_NONBLOCK: if a FIFO is swapped in after the lstat, opening it must
    # not hang the agent; the fstat below then refuses it.
    flags = ((os.O_RDWR if writable else os.O_RDONLY) | os.O_NOFOLLOW
             | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fd = os.open(LOG_NAME, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _Stop(REFUSED, 'console.log was removed before it could be '
                    'opened') from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Stop(REFUSED, 'console.log became a symlink; not '
                        'followed', _errname(exc)) from None
        raise _Stop(ERROR, 'cannot open console.log: %s' % exc,
                    _errname(exc)) from None
    fds.append(fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or not _same(st, lst):
        raise _Stop(REFUSED, 'console.log changed between lstat and open '
                    '(swapped for another file); not touched')
    return fd, st


def _verify(dir_fd, fd):
    """Raise _Stop unless console.log still names the inode we hold."""
    st = os.fstat(fd)
    try:
        path_st = os.stat(LOG_NAME, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise _Stop(REFUSED, 'console.log was removed during enforcement; '
                    'nothing cut') from None
    if st.st_nlink == 0 or not _same(st, path_st):
        raise _Stop(REFUSED, 'console.log was replaced during enforcement; '
                    'nothing cut')
    return st


def _enforce(instances_dir, instance, policy, now, methods,
             remote_writers_possible, proc, ignore_pids, checkpoint, res,
             fds):
    if not policy.enabled:
        raise _Stop(NONE, 'policy disabled')
    enforcing = policy.mode == policy_mod.ENFORCE
    dir_fd = _open_dirs(instances_dir, instance, fds)
    fd, st = _open_log(dir_fd, enforcing, fds)
    checkpoint('opened')
    if enforcing:
        try:
            # flock on the log itself: the lock follows the inode, needs no
            # extra file, and the Linux NFS client maps it to a whole-file
            # lock that other hosts' agents see.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Stop(SKIPPED, 'another agent holds the lock on this '
                        'console.log') from None
        checkpoint('locked')
        st = _verify(dir_fd, fd)
    res.apparent_before = st.st_size
    res.allocated_before = st.st_blocks * 512
    if res.allocated_before <= policy.max_bytes:
        res.apparent_after = res.apparent_before
        res.allocated_after = res.allocated_before
        raise _Stop(NONE, 'allocated %d bytes, within max_bytes %d'
                    % (res.allocated_before, policy.max_bytes))
    size = st.st_size
    start = _content_start(fd, size, res)
    cut, whole = _line_start(fd, size, policy.keep_bytes, res)
    res.content_start, res.cut_offset, res.line_boundary = start, cut, whole
    if cut <= start:
        raise _Stop(NONE, 'allocated %d bytes but the content (%d bytes '
                    'from offset %d) is within keep_bytes %d'
                    % (res.allocated_before, size - start, start,
                       policy.keep_bytes))
    if not whole:
        res.notes.append('no line boundary in the last %d bytes; cut '
                         'mid-line' % policy.keep_bytes)
    scan = fdinfo.find_holders(st.st_dev, st.st_ino, proc=proc,
                               exclude_pids={os.getpid(), *ignore_pids})
    res.holders = [h.to_dict() for h in scan.holders]
    res.holders_complete = scan.complete
    order, why = _plan(scan, remote_writers_possible, methods)
    res.reason = why
    if not order:
        raise _Stop(REFUSED, why + '; no allowed method is safe here')
    res.bytes_removed = cut - start
    if not enforcing:
        res.method = order[0]
        res.notes.append('report mode: nothing changed; filesystem support '
                         'for %s is only probed when enforcing' % order[0])
        res.apparent_after, res.allocated_after = (
            res.apparent_before, res.allocated_before)
        raise _Stop(PLANNED, why)
    if policy.backups > 0:
        try:
            info = backup.write(dir_fd, fd, start, cut, now)
        except backup.BackupError as exc:
            raise _Stop(REFUSED, 'backup failed, nothing cut: %s' % exc,
                        errno.errorcode.get(exc.errno or 0)) from None
        res.backup = info['name']
        res.backup_bytes = info['bytes_written']
        res.bytes_read += info['bytes_read']
        res.bytes_written += info['bytes_written']
        checkpoint('backup_written')
    try:
        checkpoint('before_cut')
        _verify(dir_fd, fd)
        _cut(fd, dir_fd, order, st, start, cut, whole, res)
    except BaseException:
        if res.backup and res.action != CUT:
            # Nothing was removed, so the copy would only mislead.
            backup.remove(dir_fd, res.backup)
            res.notes.append('backup %s removed: nothing was cut'
                             % res.backup)
            res.backup = None
        raise
    after = os.fstat(fd)
    res.apparent_after = after.st_size
    res.allocated_after = after.st_blocks * 512
    res.pruned_backups, errors = backup.prune(
        dir_fd, policy.backups, policy.max_age_days, now)
    res.notes.extend(errors)


def _cut(fd, dir_fd, order, st, start, cut, whole, res):
    for method in order:
        try:
            if method == COLLAPSE:
                done = _collapse(fd, st, cut, whole, res)
            elif method == PUNCH:
                done = _punch(fd, cut, res)
            else:
                done = _copy_truncate(fd, dir_fd, cut, res)
        except OSError as exc:
            if exc.errno in _UNSUPPORTED or (
                    method == COLLAPSE and exc.errno == errno.EINVAL):
                res.notes.append('%s not possible here: %s' % (method, exc))
                continue
            raise
        if done:
            res.method = method
            res.action = CUT
            return
    raise _Stop(REFUSED, res.reason + '; no safe method worked: '
                + '; '.join(res.notes))


def _collapse(fd, st, cut, whole, res):
    """Collapse the head; the removed range must be whole blocks.

    Rule: the freed range is [0, cut rounded down to st_blksize). The kept
    file therefore starts with up to one block minus one byte of the line
    before the first whole line; that partial line is overwritten in place
    with a marker of the same length (ending in its original newline), so
    the log keeps at most keep_bytes + one block and never begins
    mid-line. Writers append past it, never at offset 0.
    """
    block = st.st_blksize or 4096
    aligned = (cut // block) * block
    if aligned == 0:
        res.notes.append('%s: head shorter than one block (%d)'
                         % (COLLAPSE, block))
        return False
    fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, aligned)
    res.freed_offset = aligned
    partial = cut - aligned
    if partial and whole:
        os.pwrite(fd, _marker(partial), 0)
        res.bytes_written += partial
    res.bytes_at_risk = 0
    return True


def _punch(fd, cut, res):
    """Free the head's blocks; size and every writer's offset unchanged."""
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, cut)
    res.freed_offset = cut
    res.bytes_at_risk = 0
    return True


def _copy_truncate(fd, dir_fd, cut, res):
    """Last resort: copy the tail aside, truncate, put the tail back.

    Only reached when no writer lacks O_APPEND (the planner sees to it).
    Bytes appended after our last read and before ftruncate are lost;
    bytes appended between ftruncate and our rewrite land before the old
    tail. Both are measured (st_size just before/after ftruncate) and
    summed as bytes_at_risk.
    """
    try:
        tmp = os.open(_TAIL_TMP, os.O_RDWR | os.O_CREAT | os.O_EXCL
                      | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        raise _Stop(REFUSED, '%s exists: an earlier copy-truncate did not '
                    'finish and it may hold the only copy of the tail; '
                    'recover it by hand' % _TAIL_TMP) from None
    truncated = restored = False
    try:
        offset = cut
        while True:
            data = os.pread(fd, _CHUNK, offset)
            if not data:
                break
            os.write(tmp, data)
            res.bytes_read += len(data)
            res.bytes_written += len(data)
            offset += len(data)
        # The copy must be durable before the original loses it.
        os.fsync(tmp)
        before = os.fstat(fd).st_size
        os.ftruncate(fd, 0)
        truncated = True
        after = os.fstat(fd).st_size
        lost = max(0, before - offset)
        fcntl.fcntl(fd, fcntl.F_SETFL,
                    fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        pos = 0
        while True:
            data = os.pread(tmp, _CHUNK, pos)
            if not data:
                break
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            res.bytes_read += len(data)
            res.bytes_written += len(data)
            pos += len(data)
        restored = True
        res.bytes_at_risk = lost + after
        if lost or after:
            res.notes.append('%s: %d byte(s) written during the copy were '
                             'lost, %d landed before the kept tail'
                             % (COPY, lost, after))
    finally:
        os.close(tmp)
        if restored or not truncated:
            try:
                os.unlink(_TAIL_TMP, dir_fd=dir_fd)
            except OSError:
                pass
        else:
            res.notes.append('the kept tail is in %s: the log was '
                             'truncated but not refilled' % _TAIL_TMP)
    return True
