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

"""Real Nova cell and API schemas, built by nova-manage from PyPI, for tests.

Nova lives in its own virtualenv (cached between runs, default
``~/.cache/cryptkeeper/nova-venv``, or ``$CRYPTKEEPER_NOVA_VENV``) because
its pinned dependencies must not leak into cryptkeeper's. The schemas come
from Nova's own migrations (``nova-manage api_db sync`` and ``db sync``):
the models' ``create_all`` lacks the shadow tables and half the cell tables,
so it is no substitute.

A Nova that cannot be installed, or a sync that fails, is an error, never a
silent skip. Only ``CRYPTKEEPER_ALLOW_SKIP_NOVA=1`` outside CI turns it into
a skip, for a developer working offline.
"""

import os
import shutil
import tempfile
import time
import unittest
import uuid

import fixtures
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import provision
import sqlalchemy as sa

from cryptkeeper.tests.local_fixtures import cached_venv

NOVA_REQUIREMENTS = ('nova>=34,<35', 'PyMySQL', 'psycopg2-binary')

# Installing pulls ~400 MB from PyPI; a slow mirror can take minutes.
INSTALL_TIMEOUT = 900
# A sync takes seconds; this only bounds a hang (a lock held elsewhere).
MANAGE_TIMEOUT = 600
LOG_TAIL_LINES = cached_venv.LOG_TAIL_LINES

BACKENDS = ('sqlite', 'mysql', 'postgresql')

_VENV_ENV = 'CRYPTKEEPER_NOVA_VENV'
_SKIP_ENV = 'CRYPTKEEPER_ALLOW_SKIP_NOVA'

# Virtualenvs this process has already checked: importing Nova to answer
# --version costs seconds, and a test run builds many schemas.
_VERIFIED = {}


class NovaFixtureError(Exception):
    """Nova could not be installed, or nova-manage failed."""


def default_venv_path():
    """Where the cached Nova virtualenv lives."""
    return cached_venv.default_path(_VENV_ENV, 'nova-venv')


def skip_allowed():
    """Whether a missing Nova may be a skip rather than a failure."""
    return cached_venv.skip_allowed(_SKIP_ENV)


def backends_required():
    """Whether a missing MariaDB/PostgreSQL server must fail the test."""
    return bool(os.environ.get('CI') or
                os.environ.get('CRYPTKEEPER_REQUIRE_BACKENDS'))


log_tail = cached_venv.text_tail
start_outside_test = cached_venv.start_outside_test


def _run(cmd, what, timeout, log_path=None, cwd=None, ok_codes=(0,)):
    """Run a command; return ``(returncode, output)``.

    A return code outside ``ok_codes`` raises with the output's tail.
    """
    return cached_venv.run(cmd, what, timeout, NovaFixtureError,
                           log_path=log_path, cwd=cwd, ok_codes=ok_codes)


def _install_step(cmd, what, log_path):
    # _run keeps the output, not the log's name: say where the log is.
    _run(cmd, f'{what} (log: {log_path})', INSTALL_TIMEOUT, log_path)


def nova_version(venv):
    """``nova-manage --version`` of a virtualenv, or None if it fails."""
    return cached_venv.tool_version(os.path.join(venv, 'bin', 'nova-manage'))


def ensure_venv(venv=None):
    """Return ``(venv, installed)``: a virtualenv with Nova in it.

    ``installed`` says whether this call had to install it.
    """
    venv = venv or default_venv_path()
    if venv in _VERIFIED:
        return venv, False
    version, installed = cached_venv.ensure(
        venv, NOVA_REQUIREMENTS, nova_version, _install_step, 'Nova')
    if version is None:
        raise NovaFixtureError(
            f'Nova installed into {venv} but `nova-manage --version` '
            f'fails; see {cached_venv.install_log_path(venv)}')
    _VERIFIED[venv] = version
    return venv, installed


def ensure_venv_or_skip(venv=None):
    """:func:`ensure_venv` for a test's setUpClass.

    An install can take longer than a test's timeout, so classes whose
    tests build schemas call this first. It skips only where
    :func:`skip_allowed` says so.
    """
    with cached_venv.skip_if_allowed(NovaFixtureError, 'Nova', _SKIP_ENV):
        return ensure_venv(venv)[0]


def url_string(url):
    """A URL as text with its password, as a config file needs it."""
    return sa.engine.make_url(url).render_as_string(hide_password=False)


class NovaDatabases(fixtures.Fixture):
    """Two fresh, empty databases: one for Nova's API DB, one for a cell.

    ``backend`` is ``sqlite`` (two files in a temporary directory),
    ``mysql`` or ``postgresql`` (two uniquely named databases created with
    the ``openstack_citest`` account of oslo.db's opportunistic convention,
    dropped on cleanup). After setUp: ``api_url``, ``cell_url`` (strings
    with the password) and ``api_engine``, ``cell_engine``.

    A server that is not there skips the test, except in CI (or with
    ``CRYPTKEEPER_REQUIRE_BACKENDS``) where it fails.
    """

    def __init__(self, backend):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f'unknown backend {backend!r}')
        self.backend = backend

    def _setUp(self):
        if self.backend == 'sqlite':
            tmp = tempfile.mkdtemp(prefix='cryptkeeper-nova-db-')
            self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
            self.api_url = 'sqlite:///' + os.path.join(tmp, 'nova_api.sqlite')
            self.cell_url = 'sqlite:///' + os.path.join(tmp, 'nova.sqlite')
        else:
            self._provision()
        self.api_engine = sa.create_engine(self.api_url)
        self.addCleanup(self.api_engine.dispose)
        self.cell_engine = sa.create_engine(self.cell_url)
        self.addCleanup(self.cell_engine.dispose)

    def _provision(self):
        urls = provision_databases(self, self.backend, 'ck_nova',
                                   ('api', 'cell'))
        self.api_url = urls['api']
        self.cell_url = urls['cell']


def provision_databases(fixture, backend, prefix, roles):
    """Create a uniquely named database per role; return ``{role: url}``.

    The databases are made with the ``openstack_citest`` account of
    oslo.db's opportunistic convention and dropped by ``fixture``'s
    cleanup. A server that is not there skips the test, except where
    :func:`backends_required` says it must fail.
    """
    try:
        server = provision.Backend.backend_for_database_type(backend)
    except db_exc.BackendNotAvailable as exc:
        if backends_required():
            raise
        raise unittest.SkipTest(str(exc)) from exc
    token = uuid.uuid4().hex[:12]
    urls = {}
    for role in roles:
        # Unquoted identifiers: lower case letters, digits, underscore.
        ident = f'{prefix}_{token}_{role}'
        server.create_named_database(ident)
        fixture.addCleanup(server.drop_named_database, ident,
                           conditional=True)
        urls[role] = url_string(server.provisioned_database_url(ident))
    return urls


class NovaSchemaFixture(fixtures.Fixture):
    """Build Nova's API and cell schemas in the given databases.

    After setUp: ``venv``, ``config_file`` (the nova.conf used),
    ``version`` (of nova-manage) and ``timings`` (seconds: ``install``,
    ``api_db_sync``, ``db_sync``); ``installed`` says whether the Nova
    virtualenv had to be installed by this fixture.
    """

    def __init__(self, cell_url, api_url, venv=None):
        super().__init__()
        self.cell_url = url_string(cell_url)
        self.api_url = url_string(api_url)
        self.venv = venv
        self.timings = {}
        self.installed = False

    def _setUp(self):
        with cached_venv.skip_if_allowed(NovaFixtureError, 'Nova', _SKIP_ENV):
            self._build()

    def _build(self):
        t0 = time.monotonic()
        self.venv, self.installed = ensure_venv(self.venv)
        self.timings['install'] = time.monotonic() - t0
        self.version = _VERIFIED.get(self.venv)

        self.workdir = tempfile.mkdtemp(prefix='cryptkeeper-nova-')
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.log_path = os.path.join(self.workdir, 'nova-manage.log')
        self.config_file = self._write_config()

        # The API DB first: that is the order Nova documents, and the cell
        # sync looks at the API DB when it is configured.
        for step, args in (('api_db_sync', ('api_db', 'sync')),
                           ('db_sync', ('db', 'sync'))):
            t0 = time.monotonic()
            self.nova_manage(*args)
            self.timings[step] = time.monotonic() - t0

    def _write_config(self):
        return cached_venv.write_service_config(
            self.workdir, 'nova', self.cell_url,
            extra=f'[api_database]\nconnection = {self.api_url}\n')

    def nova_manage(self, *args, ok_codes=(0,), timeout=MANAGE_TIMEOUT):
        """Run ``nova-manage --config-file <ours> ARGS``.

        Returns ``(returncode, output)``; a return code outside
        ``ok_codes`` raises :class:`NovaFixtureError` with the output's
        tail. ``db archive_deleted_rows`` answers 1 when it archived
        something, so pass ``ok_codes=(0, 1)`` for it.
        """
        cmd = [os.path.join(self.venv, 'bin', 'nova-manage'),
               '--config-file', self.config_file, *args]
        return _run(cmd, 'nova-manage ' + ' '.join(args), timeout,
                    log_path=self.log_path, cwd=self.workdir,
                    ok_codes=ok_codes)


class NovaSchemaPerClass:
    """Mixin: one pair of real Nova databases per test class.

    A schema sync costs seconds, so the tests of a class share one.
    Subclasses set ``BACKEND`` and fill the databases in
    ``load_class_data()``; a failure there still drops the databases.
    """

    BACKEND = None

    @classmethod
    def load_class_data(cls):
        """Put the class's data into ``cls.dbs``; nothing by default."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbs = start_outside_test(NovaDatabases(cls.BACKEND))
        try:
            cls.nova = start_outside_test(
                NovaSchemaFixture(cls.dbs.cell_url, cls.dbs.api_url))
            cls.load_class_data()
        except BaseException:
            cls.dbs.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.nova.cleanUp()
        cls.dbs.cleanUp()
        super().tearDownClass()
