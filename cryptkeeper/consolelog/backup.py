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

"""Compressed copies of removed console-log heads, kept beside the log."""

import datetime
import errno
import gzip
import os
import re
import stat

LOG_NAME = 'console.log'
# Sorting these names sorts by time: UTC, fixed width, microseconds.
_STAMP = '%Y%m%dT%H%M%S%f'
BACKUP_RE = re.compile(r'^console\.log\.(\d{8}T\d{12})Z(?:-(\d+))?\.gz$')
# Rotated siblings written by virtlogd (console.log.0 ...) or by hand.
ROTATED_RE = re.compile(r'^console\.log\.\d+(?:\.gz)?$')
_CHUNK = 1 << 20
# A removed head can be gigabytes (the 5.5 GB case): speed matters more
# than the last few percent of ratio, and text still shrinks several-fold.
COMPRESSLEVEL = 1


class BackupError(Exception):
    """Writing a backup failed; nothing was cut."""

    def __init__(self, message, errno_=None):
        super().__init__(message)
        self.errno = errno_


def name_for(now):
    return '%s.%sZ.gz' % (LOG_NAME, now.astimezone(
        datetime.timezone.utc).strftime(_STAMP))


def stamp_of(name):
    """Return the UTC datetime encoded in a backup name, or None."""
    match = BACKUP_RE.match(name)
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), _STAMP).replace(
        tzinfo=datetime.timezone.utc)


def _exists(dir_fd, name):
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def write(dir_fd, src_fd, start, end, now):
    """Write bytes [start, end) of src_fd to a new gzip beside the log.

    The copy is written under a hidden temporary name, fsynced, then
    renamed, so a crash or a full disk never leaves a truncated backup
    under a real backup name. Returns {name, bytes_read, bytes_written}.
    Raises BackupError (with errno) on any failure, after removing the
    temporary file.
    """
    name = name_for(now)
    suffix = 0
    while _exists(dir_fd, name):
        suffix += 1
        name = name_for(now)[:-len('.gz')] + '-%d.gz' % suffix
    tmp = '.%s.tmp' % name
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640, dir_fd=dir_fd)
    except OSError as exc:
        raise BackupError('cannot create backup %s: %s' % (name, exc),
                          exc.errno) from exc
    copied = 0
    try:
        with os.fdopen(fd, 'wb') as raw:
            with gzip.GzipFile(filename=LOG_NAME, mode='wb', fileobj=raw,
                               compresslevel=COMPRESSLEVEL,
                               mtime=int(now.timestamp())) as gz:
                offset = start
                while offset < end:
                    data = os.pread(src_fd, min(_CHUNK, end - offset),
                                    offset)
                    if not data:
                        raise BackupError(
                            'console.log shrank to %d bytes while backing '
                            'up %d..%d' % (offset, start, end), errno.EIO)
                    gz.write(data)
                    offset += len(data)
                    copied += len(data)
            raw.flush()
            os.fsync(raw.fileno())
            written = raw.tell()
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        os.fsync(dir_fd)
    except (OSError, BackupError) as exc:
        _unlink_quietly(dir_fd, tmp)
        if isinstance(exc, BackupError):
            raise
        raise BackupError('writing backup %s failed: %s' % (name, exc),
                          exc.errno) from exc
    return {'name': name, 'bytes_read': copied, 'bytes_written': written}


def _unlink_quietly(dir_fd, name):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def remove(dir_fd, name):
    """Remove one backup we wrote (used when the cut did not happen)."""
    _unlink_quietly(dir_fd, name)


def list_backups(dir_fd):
    """Return [(name, stamp)] of cryptkeeper backups, oldest first.

    Only regular files with our exact name pattern count: a symlink or a
    directory with a backup-like name is never ours to rotate.
    """
    found = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            stamp = stamp_of(entry.name)
            if stamp is None:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((entry.name, stamp))
    found.sort()
    return found


def prune(dir_fd, keep, max_age_days, now):
    """Keep at most ``keep`` newest backups; drop older than max_age_days.

    Returns (removed names, errors as strings).
    """
    backups = list_backups(dir_fd)
    doomed = backups[:max(0, len(backups) - keep)]
    if max_age_days:
        limit = now - datetime.timedelta(days=max_age_days)
        doomed += [b for b in backups[len(doomed):] if b[1] < limit]
    removed, errors = [], []
    for name, _stamp in doomed:
        try:
            os.unlink(name, dir_fd=dir_fd)
            removed.append(name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append('cannot remove backup %s: %s' % (name, exc))
    return removed, errors
