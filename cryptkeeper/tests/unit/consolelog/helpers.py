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

"""Real files and real writer processes for the console-log tests."""

import contextlib
import gzip
import hashlib
import os
import select
import subprocess
import sys
import time

from cryptkeeper.consolelog import truncate

UUID = '6b1f7d52-3f0e-4a55-9d53-3c8a1b7e9f01'
OTHER_UUID = '0c2bd5a4-8a7e-4f4e-b0b6-0d2b8f0d7e11'

# A guest console in miniature: numbered lines, unbuffered, one write(2)
# per line, opened as virtlogd does (O_APPEND) or as qemu's file chardev
# does without append=on (O_TRUNC, no O_APPEND). It reports its byte count
# and its own file offset, then keeps the file open until told to exit.
# With "pause" it also stops half-way until told to go on.
WRITER = r'''
import os, sys
path, append, count = sys.argv[1], sys.argv[2] == '1', int(sys.argv[3])
pause = sys.argv[4:] == ['pause']
flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
fd = os.open(path, flags, 0o644)
print('ready', flush=True)
total = 0
for i in range(count):
    if pause and i == count // 2:
        print('half', flush=True)
        sys.stdin.readline()
    line = b'%09d ' % i + b'x' * (20 + i % 60) + b'\n'
    total += os.write(fd, line)
print(total, os.lseek(fd, 0, os.SEEK_CUR), flush=True)
sys.stdin.readline()
'''

# Holds an exclusive flock on a file, like a second agent mid-enforcement.
LOCKER = r'''
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print('locked', flush=True)
sys.stdin.readline()
'''


def line(i):
    return b'%09d ' % i + b'x' * (20 + i % 60) + b'\n'


def lines(first, last):
    return b''.join(line(i) for i in range(first, last))


def make_instance(root, name=UUID, data=None):
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    if data is not None:
        with open(os.path.join(path, 'console.log'), 'wb') as f:
            f.write(data)
    return path


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(root):
    """Every path below root with its type and size: a disk snapshot."""
    seen = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            st = os.lstat(path)
            seen[path] = (st.st_mode, st.st_size)
    return seen


def gunzip(path):
    with gzip.open(path, 'rb') as f:
        return f.read()


def unmark(data):
    """Drop marker lines (written over partial lines) and punched zeros."""
    out = []
    for piece in data.lstrip(b'\0').splitlines(keepends=True):
        body = piece.rstrip(b'\n').rstrip(b' ')
        if piece[:1].isdigit() or not truncate.MARKER.startswith(body):
            out.append(piece)
    return b''.join(out)


class Writer:
    """A writer subprocess; stop() returns (bytes written, its offset)."""

    def __init__(self, path, append, count, pause=False):
        self.proc = subprocess.Popen(
            [sys.executable, '-c', WRITER, path, '1' if append else '0',
             str(count)] + (['pause'] if pause else []),
            # Unbuffered, so readline() never swallows the result line that
            # select() below waits for.
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        assert self.proc.stdout.readline().strip() == b'ready'
        self.result = None

    def finished(self):
        if self.result is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0)
            if ready:
                total, offset = self.proc.stdout.readline().split()
                self.result = (int(total), int(offset))
        return self.result is not None

    def wait_finished(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not self.finished():
            if time.monotonic() > deadline:
                raise AssertionError('writer did not finish')
            time.sleep(0.01)
        return self.result

    def go_on(self):
        """Let the writer past its pause, or let it exit once done."""
        self.proc.stdin.write(b'\n')
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            # Twice: a pausing writer may still wait half-way.
            with contextlib.suppress(BrokenPipeError):
                self.go_on()
                self.go_on()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def unreadable_pids():
    """Processes that even root cannot inspect here (a sandbox's init).

    They existed before the test and are not our writers; passing them as
    ignore_pids lets the planner trust the holder list. Anything else that
    is unreadable still makes it fall back to punch-hole.
    """
    from cryptkeeper.consolelog import fdinfo
    _found, status = fdinfo.scan(set())
    return tuple(status.unreadable_pids)
