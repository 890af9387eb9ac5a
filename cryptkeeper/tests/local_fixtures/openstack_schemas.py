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

"""Real Cinder and Glance schemas, built by their own manage tools, for tests.

Each service lives in its own virtualenv installed from PyPI and cached
between runs (default ``~/.cache/cryptkeeper/<service>-venv``, or
``$CRYPTKEEPER_<SERVICE>_VENV``), as Nova does in
:mod:`cryptkeeper.tests.local_fixtures.nova`. The schema is what the
service's own migrations build (``cinder-manage db sync``,
``glance-manage db_sync``) on SQLite, MariaDB or PostgreSQL; nothing here
repeats their DDL.

A service that cannot be installed, or a sync that fails, is an error,
never a silent skip. Only ``CRYPTKEEPER_ALLOW_SKIP_<SERVICE>=1`` outside CI
turns it into a skip, for a developer working offline.
"""

import dataclasses
import os
import shutil
import tempfile
import time

import fixtures
import sqlalchemy as sa

from cryptkeeper.tests.local_fixtures import cached_venv
from cryptkeeper.tests.local_fixtures import nova

# Installing pulls a few hundred MB from PyPI; a slow mirror takes minutes.
INSTALL_TIMEOUT = 900
# A sync takes seconds; this only bounds a hang (a lock held elsewhere).
MANAGE_TIMEOUT = 600

BACKENDS = nova.BACKENDS
start_outside_test = cached_venv.start_outside_test


class SchemaFixtureError(Exception):
    """A service could not be installed, or its manage tool failed."""


@dataclasses.dataclass(frozen=True)
class Service:
    """How to install one OpenStack service and build its schema."""

    name: str
    requirements: tuple
    manage: str
    sync: tuple
    # Extra config sections the manage tool needs besides [database].
    extra_config: str = ''

    @property
    def venv_env(self):
        return f'CRYPTKEEPER_{self.name.upper()}_VENV'

    @property
    def skip_env(self):
        return f'CRYPTKEEPER_ALLOW_SKIP_{self.name.upper()}'


# The release series nova>=34,<35 belongs to (2026.2), so the three
# schemas in a test run are of one OpenStack release.
CINDER = Service(
    name='cinder',
    requirements=('cinder>=29,<30', 'PyMySQL', 'psycopg2-binary'),
    manage='cinder-manage',
    sync=('db', 'sync'))
GLANCE = Service(
    name='glance',
    requirements=('glance>=33,<34', 'PyMySQL', 'psycopg2-binary'),
    manage='glance-manage',
    sync=('db_sync',))
SERVICES = {s.name: s for s in (CINDER, GLANCE)}

# Virtualenvs this process has already checked: importing a service to
# answer --version costs seconds, and a test run builds many schemas.
_VERIFIED = {}


def default_venv_path(service):
    """Where the cached virtualenv of ``service`` lives."""
    return cached_venv.default_path(service.venv_env, f'{service.name}-venv')


def skip_allowed(service):
    """Whether a missing ``service`` may be a skip rather than a failure."""
    return cached_venv.skip_allowed(service.skip_env)


def _install_step(cmd, what, log_path):
    # run() keeps the output, not the log's name: say where the log is.
    cached_venv.run(cmd, f'{what} (log: {log_path})', INSTALL_TIMEOUT,
                    SchemaFixtureError, log_path=log_path)


def _version_probe(service):
    def probe(venv):
        return cached_venv.tool_version(
            os.path.join(venv, 'bin', service.manage))
    return probe


def ensure_venv(service, venv=None):
    """Return ``(venv, installed)``: a virtualenv with ``service`` in it.

    ``installed`` says whether this call had to install it; the install
    log is ``cached_venv.install_log_path(venv)``.
    """
    venv = venv or default_venv_path(service)
    if venv in _VERIFIED:
        return venv, False
    version, installed = cached_venv.ensure(
        venv, service.requirements, _version_probe(service), _install_step,
        service.name.capitalize())
    if version is None:
        raise SchemaFixtureError(
            f'{service.name} installed into {venv} but `{service.manage} '
            f'--version` fails; see {cached_venv.install_log_path(venv)}')
    _VERIFIED[venv] = version
    return venv, installed


def ensure_venv_or_skip(service, venv=None):
    """:func:`ensure_venv` for a test's setUpClass (see nova's)."""
    with cached_venv.skip_if_allowed(SchemaFixtureError, service.name,
                                     service.skip_env):
        return ensure_venv(service, venv)[0]


class ServiceDatabase(fixtures.Fixture):
    """A fresh, empty database for one service on ``backend``.

    ``sqlite`` is a file in a temporary directory; ``mysql`` and
    ``postgresql`` are uniquely named databases of the opportunistic
    ``openstack_citest`` account, dropped on cleanup. After setUp: ``url``
    (with the password) and ``engine``.
    """

    def __init__(self, service, backend):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f'unknown backend {backend!r}')
        self.service = service
        self.backend = backend

    def _setUp(self):
        if self.backend == 'sqlite':
            tmp = tempfile.mkdtemp(prefix=f'cryptkeeper-{self.service.name}-')
            self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
            self.url = 'sqlite:///' + os.path.join(
                tmp, f'{self.service.name}.sqlite')
        else:
            self.url = nova.provision_databases(
                self, self.backend, f'ck_{self.service.name}',
                ('db',))['db']
        self.engine = sa.create_engine(self.url)
        self.addCleanup(self.engine.dispose)


class ServiceSchemaFixture(fixtures.Fixture):
    """Build ``service``'s schema in the database at ``url``.

    After setUp: ``venv``, ``config_file``, ``version`` (of the manage
    tool) and ``timings`` (seconds: ``install``, ``sync``); ``installed``
    says whether the virtualenv had to be installed by this fixture.
    """

    def __init__(self, service, url, venv=None):
        super().__init__()
        self.service = service
        self.url = nova.url_string(url)
        self.venv = venv
        self.timings = {}
        self.installed = False

    def _setUp(self):
        with cached_venv.skip_if_allowed(SchemaFixtureError,
                                         self.service.name,
                                         self.service.skip_env):
            self._build()

    def _build(self):
        t0 = time.monotonic()
        self.venv, self.installed = ensure_venv(self.service, self.venv)
        self.timings['install'] = time.monotonic() - t0
        self.version = _VERIFIED.get(self.venv)

        self.workdir = tempfile.mkdtemp(
            prefix=f'cryptkeeper-{self.service.name}-')
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.log_path = os.path.join(self.workdir,
                                     f'{self.service.manage}.log')
        self.config_file = self._write_config()

        t0 = time.monotonic()
        self.manage(*self.service.sync)
        self.timings['sync'] = time.monotonic() - t0

    def _write_config(self):
        return cached_venv.write_service_config(
            self.workdir, self.service.name, self.url,
            extra=self.service.extra_config)

    def manage(self, *args, ok_codes=(0,), timeout=MANAGE_TIMEOUT):
        """Run ``<service>-manage --config-file <ours> ARGS``.

        Returns ``(returncode, output)``; a return code outside
        ``ok_codes`` raises :class:`SchemaFixtureError` with the output's
        tail.
        """
        cmd = [os.path.join(self.venv, 'bin', self.service.manage),
               '--config-file', self.config_file, *args]
        return cached_venv.run(
            cmd, f'{self.service.manage} ' + ' '.join(args), timeout,
            SchemaFixtureError, log_path=self.log_path, cwd=self.workdir,
            ok_codes=ok_codes)


class ServiceSchemaPerClass:
    """Mixin: one real database of ``SERVICE`` per test class.

    Subclasses set ``SERVICE`` and ``BACKEND`` and fill the database in
    ``load_class_data()``; a failure there still drops the database.
    After setUpClass: ``cls.db`` (:class:`ServiceDatabase`) and
    ``cls.schema`` (:class:`ServiceSchemaFixture`).
    """

    SERVICE = None
    BACKEND = None

    @classmethod
    def load_class_data(cls):
        """Put the class's data into ``cls.db``; nothing by default."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = start_outside_test(ServiceDatabase(cls.SERVICE, cls.BACKEND))
        try:
            cls.schema = start_outside_test(
                ServiceSchemaFixture(cls.SERVICE, cls.db.url))
            cls.load_class_data()
        except BaseException:
            cls.db.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.schema.cleanUp()
        cls.db.cleanUp()
        super().tearDownClass()
