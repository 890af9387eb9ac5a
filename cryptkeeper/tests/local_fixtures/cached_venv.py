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

"""A virtualenv installed from PyPI once and cached between test runs."""

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import unittest

import fixtures

LOG_TAIL_LINES = 60

_READY_MARKER = '.cryptkeeper-ready'


def default_path(env_var, dirname):
    """``$env_var`` if set, else ``~/.cache/cryptkeeper/<dirname>``."""
    path = os.environ.get(env_var)
    if path:
        return os.path.abspath(os.path.expanduser(path))
    return os.path.join(os.path.expanduser('~'), '.cache', 'cryptkeeper',
                        dirname)


def skip_allowed(env_var):
    """Whether ``$env_var=1`` lets a missing install skip; never in CI."""
    if os.environ.get('CI'):
        return False
    return os.environ.get(env_var) == '1'


@contextlib.contextmanager
def skip_if_allowed(error, name, env_var):
    """Turn an ``error`` raised inside into a skip where that is allowed."""
    try:
        yield
    except error as exc:
        if skip_allowed(env_var):
            raise unittest.SkipTest(
                f'{name} unavailable and {env_var}=1: {exc}') from exc
        raise


def log_tail(path, lines=LOG_TAIL_LINES):
    """The last lines of a log file, for error messages."""
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError as exc:
        return f'(no log at {path}: {exc})'


def text_tail(text, lines=LOG_TAIL_LINES):
    """The last lines of a command's output, for error messages."""
    return '\n'.join(text.splitlines()[-lines:])


def clean_env(**extra):
    """``os.environ`` plus ``extra``, without what points at other Pythons."""
    # A cached virtualenv must see only its own packages, whatever the test
    # runner's environment points at.
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env.update(extra)
    return env


def run(cmd, what, timeout, error, log_path=None, cwd=None, ok_codes=(0,)):
    """Run a command of a cached virtualenv; return ``(returncode, output)``.

    A return code outside ``ok_codes``, a timeout or a command that cannot
    start raises ``error`` with the output's tail. The output is appended
    to ``log_path`` if given.
    """
    try:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=clean_env(), cwd=cwd,
            timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b'').decode(errors='replace')
        raise error(
            f'{what} did not finish within {timeout} s\n'
            f'--- output (tail) ---\n{text_tail(out)}') from exc
    except OSError as exc:
        raise error(f'{what} failed: {exc}') from exc
    out = proc.stdout.decode(errors='replace')
    if log_path:
        with open(log_path, 'a') as log:
            log.write('\n$ {} (rc {})\n{}'.format(' '.join(cmd),
                                                  proc.returncode, out))
    if proc.returncode not in ok_codes:
        raise error(
            f'{what} exited {proc.returncode}\n'
            f'--- output (tail) ---\n{text_tail(out)}')
    return proc.returncode, out


def tool_version(path):
    """``PATH --version`` of a manage tool as text, or None if it fails."""
    try:
        proc = subprocess.run(
            [path, '--version'], capture_output=True, timeout=120,
            env=clean_env(), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    # oslo.config prints the version on stdout or stderr depending on the
    # argparse in use.
    return (proc.stdout or proc.stderr).decode(errors='replace').strip()


def write_service_config(workdir, name, url, extra=''):
    """Write ``workdir/NAME.conf`` for an OpenStack manage tool.

    The database at ``url`` (with its password, hence mode 0600), state
    and locks in ``workdir``, then the sections of ``extra``. Returns the
    file's path.
    """
    config = (
        '[DEFAULT]\n'
        f'state_path = {workdir}\n'
        '[database]\n'
        f'connection = {url}\n'
        '[oslo_concurrency]\n'
        f'lock_path = {workdir}/locks\n'
        + extra
    )
    path = os.path.join(workdir, f'{name}.conf')
    with open(path, 'w') as f:
        f.write(config)
    os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def file_lock(path):
    """Hold an exclusive lock on ``path`` (created if missing)."""
    # Several stestr workers may need the same virtualenv at once; only one
    # of them may build it.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def install_log_path(venv):
    """Where the last install into ``venv`` logged its output."""
    return venv + '.install.log'


def _requirements_key(requirements):
    """What the ready marker records of an install."""
    return ' '.join(requirements)


def usable(venv, requirements, probe):
    """``probe(venv)`` if ``venv`` has finished installing ``requirements``.

    None if it has not, or if ``probe`` answers None.
    """
    # The marker is written last, so a half-finished install (killed
    # runner, network error) never counts as usable.
    try:
        with open(os.path.join(venv, _READY_MARKER)) as f:
            if f.read().strip() != _requirements_key(requirements):
                return None
    except OSError:
        return None
    return probe(venv)


def ensure(venv, requirements, probe, run, name):
    """Make ``venv`` hold ``requirements``; return ``(found, installed)``.

    ``found`` is what :func:`usable` answers, None if even a fresh install
    is not usable; ``installed`` says whether this call installed.
    ``run(cmd, what, log_path)`` runs one install step, adds its output to
    ``log_path`` and raises if it fails. ``name`` is for messages.
    """
    with file_lock(venv + '.lock'):
        found = usable(venv, requirements, probe)
        if found is not None:
            return found, False
        log_path = install_log_path(venv)
        with open(log_path, 'w'):
            pass
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, '-m', 'venv', venv],
            f'creating the {name} virtualenv', log_path)
        run([os.path.join(venv, 'bin', 'python'), '-m', 'pip', 'install',
             '--disable-pip-version-check', *requirements],
            f'installing {name} from PyPI into {venv}', log_path)
        with open(os.path.join(venv, _READY_MARKER), 'w') as f:
            f.write(_requirements_key(requirements) + '\n')
        return usable(venv, requirements, probe), True


def start_outside_test(fixture):
    """Set up ``fixture`` from setUpClass and friends.

    Outside a test's useFixture, fixtures wraps a setup error (or a skip) in
    MultipleExceptions; re-raise the original so unittest reports it as what
    it is.
    """
    try:
        fixture.setUp()
    except fixtures.MultipleExceptions as exc:
        first = exc.args[0]
        raise first[1].with_traceback(first[2]) from None
    return fixture
