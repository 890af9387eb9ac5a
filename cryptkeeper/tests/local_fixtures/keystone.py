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

"""A real Keystone, installed from PyPI and served by gunicorn, for tests.

Keystone lives in its own virtualenv (cached between runs, default
``~/.cache/cryptkeeper/keystone-venv``, or ``$CRYPTKEEPER_KEYSTONE_VENV``)
because its pinned dependencies must not leak into cryptkeeper's. Each
fixture gets a fresh SQLite database, fresh fernet keys and a free port on
127.0.0.1, and sets up these personas:

- ``admin``: admin on project ``admin`` and on the system (bootstrap);
- ``member``: role ``member`` on project ``demo``;
- ``service``: role ``service`` on project ``service`` (what
  keystonemiddleware needs to validate tokens);
- ``auditor``: role ``reader`` on the system (``system_scope:all``).

A Keystone that cannot be installed or started is an error, never a silent
skip. Only ``CRYPTKEEPER_ALLOW_SKIP_KEYSTONE=1`` outside CI turns it into a
skip, for a developer working offline.
"""

import contextlib
import dataclasses
import getpass
import grp
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import fixtures
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests

from cryptkeeper.tests.local_fixtures import cached_venv
from cryptkeeper.tests.local_fixtures import processes

KEYSTONE_REQUIREMENT = 'keystone>=30,<31'
GUNICORN_REQUIREMENT = 'gunicorn>=22'
_REQUIREMENTS = (KEYSTONE_REQUIREMENT, GUNICORN_REQUIREMENT)
REGION = 'RegionOne'
DOMAIN = 'Default'
SERVICE_TYPE = 'cleanup'
SERVICE_NAME = 'cryptkeeper'

# Installing pulls ~200 MB from PyPI; a slow mirror can take minutes.
INSTALL_TIMEOUT = 900
# keystone-manage on SQLite finishes in seconds; this bounds a hang.
MANAGE_TIMEOUT = 300
START_TIMEOUT = 60
LOG_TAIL_LINES = cached_venv.LOG_TAIL_LINES

_VENV_ENV = 'CRYPTKEEPER_KEYSTONE_VENV'
_SKIP_ENV = 'CRYPTKEEPER_ALLOW_SKIP_KEYSTONE'
_WSGI_MODULE = 'ck_keystone_wsgi'


class KeystoneFixtureError(Exception):
    """Keystone could not be installed, set up or started."""


@dataclasses.dataclass
class Credentials:
    """Who a persona is and the scope its tokens get by default."""

    username: str
    password: str
    project_name: str | None = None
    system_scope: str | None = None
    user_domain_name: str = DOMAIN
    project_domain_name: str = DOMAIN
    user_id: str | None = None
    project_id: str | None = None


def default_venv_path():
    """Where the cached Keystone virtualenv lives."""
    return cached_venv.default_path(_VENV_ENV, 'keystone-venv')


def skip_allowed():
    """Whether a missing Keystone may be a skip rather than a failure."""
    return cached_venv.skip_allowed(_SKIP_ENV)


log_tail = cached_venv.log_tail
start_outside_test = cached_venv.start_outside_test


def _install_step(cmd, what, log_path):
    _run_all([(cmd, log_path, what)], INSTALL_TIMEOUT)


def _run_all(jobs, timeout, env=None, cwd=None):
    """Run ``(cmd, log_path, what)`` jobs side by side; raise on any failure.

    Each job logs to its own file so a failure's tail is not interleaved
    with the others' output.
    """
    running = []
    try:
        for cmd, log_path, what in jobs:
            with open(log_path, 'ab') as log:
                log.write(('\n$ {}\n'.format(' '.join(cmd))).encode())
                log.flush()
                try:
                    proc = subprocess.Popen(
                        cmd, stdout=log, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env or cached_venv.clean_env(), cwd=cwd)
                except OSError as exc:
                    raise KeystoneFixtureError(
                        f'{what} failed: {exc}') from exc
            running.append((proc, log_path, what))
        deadline = time.monotonic() + timeout
        for proc, log_path, what in running:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired as exc:
                raise KeystoneFixtureError(
                    f'{what} did not finish within {timeout} s\n'
                    f'--- {log_path} (tail) ---\n'
                    f'{log_tail(log_path)}') from exc
            if proc.returncode != 0:
                raise KeystoneFixtureError(
                    f'{what} exited {proc.returncode}\n'
                    f'--- {log_path} (tail) ---\n{log_tail(log_path)}')
    finally:
        for proc, _log_path, _what in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _imports(venv):
    """True if Keystone and gunicorn import in ``venv``, else None."""
    python = os.path.join(venv, 'bin', 'python')
    try:
        proc = subprocess.run(
            [python, '-c', 'import gunicorn, keystone'], capture_output=True,
            timeout=120, env=cached_venv.clean_env(), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # None, not False: cached_venv counts only None as unusable.
    return True if proc.returncode == 0 else None


def ensure_venv(venv=None):
    """Return a virtualenv with Keystone and gunicorn, installing if needed.

    The ready marker is written last, so a half-finished install (killed
    runner, network error) is thrown away and redone by the next caller.
    """
    venv = venv or default_venv_path()
    found, _installed = cached_venv.ensure(venv, _REQUIREMENTS, _imports,
                                           _install_step, 'Keystone')
    if found is None:
        log_path = cached_venv.install_log_path(venv)
        raise KeystoneFixtureError(
            f'Keystone installed into {venv} but does not import\n'
            f'--- {log_path} (tail) ---\n{log_tail(log_path)}')
    return venv


class KeystoneFixture(fixtures.Fixture):
    """Run a fresh Keystone on 127.0.0.1 for the duration of the fixture.

    After setUp: ``auth_url`` (``http://127.0.0.1:PORT/v3``), ``admin``,
    ``member``, ``service`` and ``auditor`` (:class:`Credentials`),
    ``token_for()``, ``session_for()``, ``keystone_authtoken_options()``,
    ``register_endpoint()``.
    """

    def __init__(self, venv=None, host='127.0.0.1'):
        super().__init__()
        self.venv = venv
        self.host = host
        self.process = None
        self.port = None
        self.base_url = None
        self.auth_url = None
        self.log_path = None
        self.timings = {}

    def _setUp(self):
        with cached_venv.skip_if_allowed(KeystoneFixtureError, 'Keystone',
                                         _SKIP_ENV):
            self._start()

    # -- start -------------------------------------------------------------

    def _start(self):
        t0 = time.monotonic()
        self.venv = ensure_venv(self.venv)
        self.timings['install'] = time.monotonic() - t0

        self.workdir = tempfile.mkdtemp(prefix='cryptkeeper-keystone-')
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.log_path = os.path.join(self.workdir, 'keystone.log')
        self.port = processes.free_port(self.host)
        self.base_url = f'http://{self.host}:{self.port}'
        self.auth_url = self.base_url + '/v3'
        self.config_file = self._write_config()

        t0 = time.monotonic()
        # Hex, not urlsafe: a password starting with '-' would be read
        # by keystone-manage's argument parser as an option.
        self.admin = Credentials('admin', secrets.token_hex(16),
                                 project_name='admin')
        self._bootstrap()
        self.timings['bootstrap'] = time.monotonic() - t0

        t0 = time.monotonic()
        self._serve()
        self.timings['serve'] = time.monotonic() - t0

        t0 = time.monotonic()
        self._admin_session = self.session_for(self.admin)
        self._create_personas()
        self.timings['personas'] = time.monotonic() - t0

    def _write_config(self):
        d = self.workdir
        for sub in ('fernet-keys', 'credential-keys'):
            os.makedirs(os.path.join(d, sub), mode=0o700)
        # bcrypt's minimum cost: the default (12) makes every token issue
        # cost ~300 ms. It must be set before bootstrap hashes the admin
        # password. The in-memory cache makes token validation cheap; it is
        # per process, hence a single gunicorn worker.
        config = (
            '[DEFAULT]\n'
            'debug = false\n'
            '[database]\n'
            f'connection = sqlite:///{d}/keystone.sqlite\n'
            '[token]\n'
            'provider = fernet\n'
            '[fernet_tokens]\n'
            f'key_repository = {d}/fernet-keys\n'
            '[fernet_receipts]\n'
            f'key_repository = {d}/fernet-keys\n'
            '[credential]\n'
            f'key_repository = {d}/credential-keys\n'
            '[cache]\n'
            'enabled = true\n'
            'backend = dogpile.cache.memory\n'
            '[identity]\n'
            'password_hash_rounds = 4\n'
        )
        path = os.path.join(d, 'keystone.conf')
        with open(path, 'w') as f:
            f.write(config)
        return path

    def _manage_job(self, *args):
        cmd = [os.path.join(self.venv, 'bin', 'keystone-manage'),
               '--config-file', self.config_file] + list(args)
        log_path = os.path.join(self.workdir, f'keystone-manage-{args[0]}.log')
        return cmd, log_path, f'keystone-manage {args[0]}'

    def _manage(self, *args):
        _run_all([self._manage_job(*args)], MANAGE_TIMEOUT, cwd=self.workdir)

    def _bootstrap(self):
        user = getpass.getuser()
        group = grp.getgrgid(os.getgid()).gr_name
        owner = ['--keystone-user', user, '--keystone-group', group]
        # Independent steps, and each keystone-manage spends most of its
        # ~2 s importing Keystone: run them together.
        _run_all([self._manage_job('db_sync'),
                  self._manage_job('fernet_setup', *owner),
                  self._manage_job('credential_setup', *owner)],
                 MANAGE_TIMEOUT, cwd=self.workdir)
        self._manage('bootstrap',
                     '--bootstrap-username', self.admin.username,
                     '--bootstrap-password', self.admin.password,
                     '--bootstrap-project-name', self.admin.project_name,
                     '--bootstrap-role-name', 'admin',
                     '--bootstrap-service-name', 'keystone',
                     '--bootstrap-region-id', REGION,
                     '--bootstrap-admin-url', self.auth_url,
                     '--bootstrap-public-url', self.auth_url,
                     '--bootstrap-internal-url', self.auth_url)

    def _gunicorn_options(self, gunicorn):
        opts = []
        try:
            out = subprocess.run([gunicorn, '--help'], capture_output=True,
                                 text=True, timeout=60,
                                 env=cached_venv.clean_env(),
                                 check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ''
        # gunicorn >= 25 otherwise writes a control socket under ~/.gunicorn.
        if '--no-control-socket' in out:
            opts.append('--no-control-socket')
        return opts

    def _serve(self):
        here = os.path.dirname(os.path.abspath(__file__))
        # A copy beside keystone.conf, not the package directory on the
        # path: this package's keystone.py would shadow the real keystone.
        shutil.copy(os.path.join(here, 'keystone_wsgi.py'),
                    os.path.join(self.workdir, _WSGI_MODULE + '.py'))
        gunicorn = os.path.join(self.venv, 'bin', 'gunicorn')
        cmd = [gunicorn,
               '--bind', f'{self.host}:{self.port}',
               '--workers', '1',
               '--timeout', '120',
               '--graceful-timeout', '5',
               '--chdir', self.workdir,
               '--pythonpath', self.workdir,
               '--access-logfile', '-']
        cmd += self._gunicorn_options(gunicorn)
        cmd.append(f'{_WSGI_MODULE}:application')
        env = cached_venv.clean_env(
            OS_KEYSTONE_CONFIG_FILES=self.config_file)
        with open(self.log_path, 'ab') as log:
            log.write(('\n$ {}\n'.format(' '.join(cmd))).encode())
            log.flush()
            # A session of its own, so cleanup can kill the arbiter and its
            # worker together.
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=self.workdir,
                start_new_session=True)
        self.addCleanup(self._stop)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KeystoneFixtureError(
                    f'gunicorn serving Keystone exited '
                    f'{self.process.returncode} before answering\n'
                    f'--- {self.log_path} (tail) ---\n'
                    f'{log_tail(self.log_path)}')
            try:
                resp = requests.get(self.auth_url, timeout=5)
                if resp.status_code == 200:
                    return
                last = f'HTTP {resp.status_code}'
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.2)
        raise KeystoneFixtureError(
            f'Keystone did not answer on {self.auth_url} within '
            f'{START_TIMEOUT} s (last: {last})\n'
            f'--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}')

    def _stop(self):
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        processes.stop(proc)
        # The worker may outlive an arbiter that died first.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    # -- identity setup ----------------------------------------------------

    def _call(self, method, path, body=None):
        try:
            resp = self._admin_session.request(
                self.auth_url + path, method, json=body)
        except ks_exc.ClientException as exc:
            raise KeystoneFixtureError(
                f'{method} {path} failed: {exc}\n'
                f'--- {self.log_path} (tail) ---\n'
                f'{log_tail(self.log_path)}') from exc
        return resp.json() if resp.content else None

    def _role_id(self, name):
        roles = self._call('GET', f'/roles?name={name}')['roles']
        if not roles:
            raise KeystoneFixtureError(f'Keystone has no role {name!r}')
        return roles[0]['id']

    def _create_project(self, name):
        return self._call('POST', '/projects', {'project': {
            'name': name, 'domain_id': 'default',
            'description': 'cryptkeeper test project'}})['project']['id']

    def _create_user(self, creds, project_id=None):
        user = {'name': creds.username, 'password': creds.password,
                'domain_id': 'default', 'enabled': True}
        if project_id:
            user['default_project_id'] = project_id
        creds.user_id = self._call('POST', '/users',
                                   {'user': user})['user']['id']
        creds.project_id = project_id

    def _grant(self, role_id, creds, project_id=None):
        target = (f'/projects/{project_id}' if project_id else '/system')
        self._call('PUT', f'{target}/users/{creds.user_id}/roles/{role_id}')

    def _create_personas(self):
        self.admin.user_id = self._admin_session.get_user_id()
        self.admin.project_id = self._admin_session.get_project_id()

        demo = self._create_project('demo')
        service_project = self._create_project('service')
        member_role = self._role_id('member')
        service_role = self._role_id('service')
        reader_role = self._role_id('reader')

        self.member = Credentials('member', secrets.token_hex(16),
                                  project_name='demo')
        self._create_user(self.member, demo)
        self._grant(member_role, self.member, project_id=demo)

        self.service = Credentials('service', secrets.token_hex(16),
                                   project_name='service')
        self._create_user(self.service, service_project)
        self._grant(service_role, self.service, project_id=service_project)

        self.auditor = Credentials('auditor', secrets.token_hex(16),
                                   system_scope='all')
        self._create_user(self.auditor)
        self._grant(reader_role, self.auditor)

    def register_endpoint(self, url, interfaces=('public', 'internal',
                                                 'admin')):
        """Put cryptkeeper (service type ``cleanup``) in the catalog.

        Returns the service id.
        """
        services = self._call(
            'GET', f'/services?type={SERVICE_TYPE}')['services']
        if services:
            service_id = services[0]['id']
        else:
            service_id = self._call('POST', '/services', {'service': {
                'type': SERVICE_TYPE, 'name': SERVICE_NAME,
                'enabled': True,
                'description': 'OpenStack cleanup service'}})['service']['id']
        for interface in interfaces:
            self._call('POST', '/endpoints', {'endpoint': {
                'service_id': service_id, 'interface': interface,
                'url': url, 'region_id': REGION, 'enabled': True}})
        return service_id

    # -- what tests use ----------------------------------------------------

    def credentials(self, user):
        """The :class:`Credentials` of a persona name, or ``user`` itself."""
        if isinstance(user, Credentials):
            return user
        try:
            return {'admin': self.admin, 'member': self.member,
                    'service': self.service, 'auditor': self.auditor}[user]
        except KeyError:
            raise ValueError(f'unknown persona {user!r}') from None

    def auth_for(self, user, project=None, system=False):
        """A keystoneauth1 v3 password plugin for a persona.

        Scope: the system if ``system``, else ``project`` (a name) if given,
        else the persona's own default scope.
        """
        creds = self.credentials(user)
        kwargs = {'auth_url': self.auth_url, 'username': creds.username,
                  'password': creds.password,
                  'user_domain_name': creds.user_domain_name}
        if system:
            kwargs['system_scope'] = 'all'
        elif project:
            kwargs['project_name'] = project
            kwargs['project_domain_name'] = creds.project_domain_name
        elif creds.system_scope:
            kwargs['system_scope'] = creds.system_scope
        elif creds.project_name:
            kwargs['project_name'] = creds.project_name
            kwargs['project_domain_name'] = creds.project_domain_name
        return v3.Password(**kwargs)

    def session_for(self, user, project=None, system=False):
        """A keystoneauth1 session authenticated as a persona."""
        return ks_session.Session(
            auth=self.auth_for(user, project=project, system=system))

    def token_for(self, user, project=None, system=False):
        """A fresh token (string) for a persona; see :meth:`auth_for`."""
        return self.session_for(user, project=project,
                                system=system).get_token()

    def keystone_authtoken_options(self):
        """Options for cryptkeeper's ``[keystone_authtoken]`` group."""
        return {
            'www_authenticate_uri': self.auth_url,
            'auth_url': self.auth_url,
            'auth_type': 'password',
            'username': self.service.username,
            'password': self.service.password,
            'project_name': self.service.project_name,
            'user_domain_name': self.service.user_domain_name,
            'project_domain_name': self.service.project_domain_name,
            'region_name': REGION,
        }

    def os_environ(self, user, project=None, system=False):
        """``OS_*`` variables that authenticate a CLI as a persona."""
        creds = self.credentials(user)
        env = {'OS_AUTH_URL': self.auth_url, 'OS_AUTH_TYPE': 'password',
               'OS_IDENTITY_API_VERSION': '3',
               'OS_REGION_NAME': REGION,
               'OS_USERNAME': creds.username,
               'OS_PASSWORD': creds.password,
               'OS_USER_DOMAIN_NAME': creds.user_domain_name}
        if system or (not project and creds.system_scope):
            env['OS_SYSTEM_SCOPE'] = 'all'
        else:
            env['OS_PROJECT_NAME'] = project or creds.project_name
            env['OS_PROJECT_DOMAIN_NAME'] = creds.project_domain_name
        return env
