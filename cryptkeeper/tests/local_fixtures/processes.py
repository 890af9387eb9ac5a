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

"""cryptkeeper's programs as the tests' subprocesses: find, start, stop."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys

STOP_TIMEOUT = 10

# The module behind each console script, for when the scripts are not
# installed next to the interpreter (a source tree on sys.path).
_MODULES = {'cryptkeeper-agent': 'cryptkeeper.cmd.agent',
            'cryptkeeper-api': 'cryptkeeper.cmd.api',
            'cryptkeeper-manage': 'cryptkeeper.cmd.manage',
            'cryptkeeper-status': 'cryptkeeper.cmd.status',
            'cryptkeeper-worker': 'cryptkeeper.cmd.worker'}


class ProgramNotFound(Exception):
    """A program the test runs is not installed."""


def command(name):
    """The command line that runs the program ``name``.

    The console script of the interpreter running the tests comes first,
    so a tox env or /work/venv tests its own install; then the module of
    a cryptkeeper program, then the program on PATH.
    """
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(path):
        return [path]
    if name in _MODULES:
        return [sys.executable, '-m', _MODULES[name]]
    found = shutil.which(name)
    if not found:
        raise ProgramNotFound('%s is not installed next to %s nor on PATH; '
                              'pip install -e . first'
                              % (name, sys.executable))
    return [found]


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def clean_env(**extra):
    """The environment without the OS_* variables, plus ``extra``.

    A program the test runs authenticates only with what it is handed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(extra)
    return env


def start(cmd, log_path, cwd=None):
    """Start ``cmd`` in a session of its own, its output appended to a log.

    The session lets ``stop`` reach every thread and child of it.
    """
    with open(log_path, 'ab') as log:
        log.write(('\n$ %s\n' % ' '.join(cmd)).encode())
        log.flush()
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd,
                                env=clean_env(), start_new_session=True)


def stop(process):
    """SIGTERM the session of a process ``start`` began; SIGKILL if deaf."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
