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

"""Archive database and files backends on real MariaDB and PostgreSQL.

Source and archive are separate databases on the local servers, of the
same kind or across kinds; the source holds a native enum column (a
PostgreSQL ENUM type, a MariaDB ENUM) that must survive the round trip
archive, verify, delete, restore byte for byte.
"""

import gzip
import hashlib
import json
import os
import uuid

import fixtures
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import provision
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import restore
from cryptkeeper.purge import retention
from cryptkeeper.purge import rows as rows_mod
from cryptkeeper.tests.functional import db_base
from cryptkeeper.tests.unit.purge import test_restore as fx
from cryptkeeper.tests.unit.purge import test_retention as fx_retention

ARCHIVED = {'instances': 9, 'instance_metadata': 27, 'instance_faults': 9}


def extra_database(test, kind):
    """A fresh, empty database on the local ``kind`` server; its URL.

    ``kind`` is 'mysql', 'postgresql' or 'sqlite' (a file).
    """
    if kind == 'sqlite':
        path = os.path.join(test.useFixture(fixtures.TempDir()).path,
                            'archive.sqlite')
        return 'sqlite:///' + path
    try:
        backend = provision.Backend.backend_for_database_type(kind)
    except db_exc.BackendNotAvailable:
        if db_base.REQUIRE_BACKENDS:
            test.fail('%s is not available and CI requires it' % kind)
        test.skipTest('%s is not available' % kind)
    ident = 'ck_archive_%s' % uuid.uuid4().hex[:12]
    backend.create_named_database(ident)
    test.addCleanup(backend.drop_named_database, ident)
    return backend.provisioned_database_url(ident).render_as_string(
        hide_password=False)


class _Source:
    """The nova-like source schema on the opportunistic database."""

    def setUp(self):
        super().setUp()
        fx.build_source(self.engine)
        self.graph = fx.reflect(self.engine)
        self.before = fx.snapshot(self.engine, self.graph)
        self.journal = journal_mod.MemoryJournal()
        self.source_url = self.engine.url.render_as_string(
            hide_password=False)

    def _archive(self, backend, **kw):
        return executor.archive(self.engine, self.graph, backend,
                                fx.archive_params(backend.kind, **kw),
                                self.journal)

    def _archived_rows(self, backend):
        """{table: (count, sha256)} of the archive's copies, per table."""
        out = {}
        for name in ARCHIVED:
            keys = [k for b in self.journal.batches() for k in b.keys[name]]
            rows = list(backend.read(self.graph.tables[name], keys))
            out[name] = rows_mod.digest(rows, self.graph.pk(name))
        return out

    def _expected_archived(self):
        """What the archive must hold: the source's soft-deleted rows."""
        out = {}
        with self.engine.connect() as conn:
            for name in ARCHIVED:
                table = self.graph.tables[name]
                rows = [dict(r) for r in conn.execute(
                    sa.select(table).where(table.c.deleted != 0)).mappings()]
                out[name] = rows_mod.digest(rows, self.graph.pk(name))
        return out


class _DatabaseBackendTests(_Source):

    def setUp(self):
        super().setUp()
        self.archive_url = extra_database(self, self.ARCHIVE)
        self.archive_engine = sa.create_engine(self.archive_url)
        self.addCleanup(self.archive_engine.dispose)

    def _backend(self):
        backend = backends.get('database', url=self.archive_url,
                               source_url=self.source_url)
        self.addCleanup(backend.close)
        return backend

    def test_archive_verify_restore_identically(self):
        expected = self._expected_archived()
        backend = self._backend()
        result = self._archive(backend)
        self.assertEqual('succeeded', result['outcome'])
        for name, n in ARCHIVED.items():
            self.assertEqual(n, result['tables'][name]['archived'], name)
        # The archive's own copies, read back by its own driver.
        self.assertEqual(expected, self._archived_rows(backend))
        with self.archive_engine.connect() as conn:
            for name, n in ARCHIVED.items():
                self.assertEqual(n, conn.execute(sa.text(
                    'SELECT count(*) FROM %s' % name)).scalar(), name)
        self._check_enum_column()

        back = restore.restore(self.engine, self.graph, self._backend(),
                               self.journal)
        self.assertEqual('succeeded', back['outcome'])
        self.assertEqual(result['checksums'], back['checksums'])
        self.assertEqual(self.before, fx.snapshot(self.engine, self.graph))
        with self.archive_engine.connect() as conn:
            for name in ARCHIVED:
                self.assertEqual(0, conn.execute(sa.text(
                    'SELECT count(*) FROM %s' % name)).scalar(), name)

    def _check_enum_column(self):
        column = {c['name']: c for c in sa.inspect(
            self.archive_engine).get_columns('instances')}['vm_state']
        if self.ARCHIVE == 'sqlite':
            return
        self.assertIsInstance(column['type'], sa.Enum)
        self.assertEqual(list(fx.STATES), list(column['type'].enums))
        if self.ARCHIVE == 'postgresql':
            # A type of the archive's own: never an INSERT ... SELECT
            # across two enum types, as nova-manage does.
            self.assertIsInstance(column['type'], postgresql.ENUM)
            same = self.engine.dialect.name == 'postgresql'
            self.assertEqual('vm_states' if same else 'ck_instances_vm_state',
                             column['type'].name)

    def test_schema_drift_stops_before_any_write(self):
        backend = self._backend()
        self._archive(backend)
        archived = self._archived_rows(backend)
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                'ALTER TABLE instance_faults ADD COLUMN details TEXT'))
            conn.execute(sa.text(
                'ALTER TABLE instance_metadata DROP COLUMN value'))
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level='AUTOCOMMIT')
            if self.engine.dialect.name == 'postgresql':
                conn.execute(sa.text(
                    "ALTER TYPE vm_states ADD VALUE 'rescued'"))
            else:
                conn.execute(sa.text(
                    "ALTER TABLE instances MODIFY vm_state ENUM('active', "
                    "'stopped', 'deleted', 'error', 'rescued')"))
        graph = fx.reflect(self.engine)
        exc = self.assertRaises(errors.SchemaMismatch,
                                self._backend().prepare, graph,
                                list(ARCHIVED))
        self.assertIn('instance_faults: columns missing in the archive: '
                      'details', exc.message)
        self.assertIn('instance_metadata: columns only in the archive: '
                      'value', exc.message)
        if self.ARCHIVE != 'sqlite':
            self.assertIn('vm_state (enum values rescued not in the '
                          'archive)', exc.message)
        self.assertNotIn(':openstack_citest@', exc.message)
        # The archive is as it was.
        self.assertEqual(archived, self._archived_rows(self._backend()))

    def test_resume_after_kill_between_archive_and_delete(self):
        crashing = fx.CrashAfterFlush(self._backend(), 2)
        self.assertRaises(fx.WorkerKilled, self._archive, crashing)
        self.assertEqual([2], [b.seq for b in self.journal.pending()])
        backend = self._backend()
        result = self._archive(backend)
        self.assertEqual('succeeded', result['outcome'])
        with self.archive_engine.connect() as conn:
            for name, n in ARCHIVED.items():
                self.assertEqual(n, conn.execute(sa.text(
                    'SELECT count(*) FROM %s' % name)).scalar(), name)
        self.assertEqual(ARCHIVED, fx.archived_counts(backend, self.graph,
                                                      self.journal))
        with self.engine.connect() as conn:
            self.assertEqual(0, conn.execute(sa.text(
                'SELECT count(*) FROM instances WHERE deleted != 0')).scalar())

    def test_restore_conflict_names_the_keys(self):
        self._archive(self._backend())
        with self.engine.begin() as conn:
            conn.execute(self.graph.tables['instances'].insert().values(
                id=6, uuid='reused', vm_state='error', deleted=0))
        result = restore.restore(self.engine, self.graph, self._backend(),
                                 self.journal)
        self.assertEqual('partial', result['outcome'])
        [refused] = result['refused']
        self.assertEqual({'instances': [[6]]}, refused['conflicts'])
        self.assertIn('instances: [6]', refused['message'])
        # Every other batch came back; the refused one stays archived.
        self.assertEqual(9 - 4, result['tables']['instances']['restored'])
        with self.engine.connect() as conn:
            self.assertEqual('reused', conn.execute(sa.text(
                'SELECT uuid FROM instances WHERE id = 6')).scalar())

    def test_retention(self):
        backend = self._backend()
        self._archive(backend)
        result = retention.expire(self._backend(), self.graph,
                                  fx_retention.purge_params())
        self.assertEqual({'instances': {'deleted': 5},
                          'instance_metadata': {'deleted': 15},
                          'instance_faults': {'deleted': 5}},
                         result['tables'])
        with self.archive_engine.connect() as conn:
            self.assertEqual([1, 2, 3, 4], list(conn.execute(sa.text(
                'SELECT id FROM instances ORDER BY id')).scalars()))


class _FilesBackendTests(_Source):

    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'archive')
        self.job = str(uuid.uuid4())

    def _backend(self, **kw):
        options = {'directory': self.root, 'job_id': self.job}
        options.update(kw)
        backend = backends.get('files', **options)
        self.addCleanup(backend.close)
        return backend

    def test_archive_to_files_and_restore_identically(self):
        expected = self._expected_archived()
        result = self._archive(self._backend())
        self.assertEqual('succeeded', result['outcome'])
        # Each file proved against the manifest by reading it again, and
        # the content's checksum is the source rows' digest.
        jobdir = os.path.join(self.root, self.job)
        with open(os.path.join(jobdir, 'manifest.json')) as f:
            manifest = json.load(f)
        per_table = {}
        for entry in manifest['files']:
            with open(os.path.join(jobdir, entry['file']), 'rb') as f:
                data = f.read()
            content = gzip.decompress(data)
            self.assertEqual(entry['file_sha256'],
                             hashlib.sha256(data).hexdigest())
            self.assertEqual(entry['sha256'],
                             hashlib.sha256(content).hexdigest())
            self.assertEqual(entry['rows'], len(content.splitlines()))
            per_table.setdefault(entry['table'], []).append(entry)
        self.assertEqual(sorted(ARCHIVED), sorted(per_table))
        for name, n in ARCHIVED.items():
            self.assertEqual(n, sum(e['rows'] for e in per_table[name]))
        states = {json.loads(line)['vm_state']
                  for e in per_table['instances']
                  for line in gzip.decompress(open(
                      os.path.join(jobdir, e['file']), 'rb').read())
                  .splitlines()}
        self.assertEqual(set(fx.STATES), states)
        self.assertEqual(expected, self._archived_rows(self._backend()))

        back = restore.restore(self.engine, self.graph, self._backend(),
                               self.journal)
        self.assertEqual('succeeded', back['outcome'])
        self.assertEqual(self.before, fx.snapshot(self.engine, self.graph))

    def test_resume_after_kill_between_archive_and_delete(self):
        crashing = fx.CrashAfterFlush(self._backend(), 2)
        self.assertRaises(fx.WorkerKilled, self._archive, crashing)
        backend = self._backend()
        self._archive(backend)
        self.assertEqual(ARCHIVED, fx.archived_counts(backend, self.graph,
                                                      self.journal))
        manifest = backend.manifest()
        for name, n in ARCHIVED.items():
            self.assertEqual(n, sum(e['rows'] for e in manifest['files']
                                    if e['table'] == name), name)

    def test_symlinked_archive_directory_is_refused(self):
        real = os.path.join(os.path.dirname(self.root), 'real')
        os.mkdir(real, 0o700)
        os.symlink(real, self.root)
        exc = self.assertRaises(errors.PurgeError, self._archive,
                                self._backend())
        self.assertIn('symbolic link', exc.message)
        self.assertEqual([], os.listdir(real))
        self.assertEqual(self.before, fx.snapshot(self.engine, self.graph))


class TestMySQLToMySQL(db_base.MySQLMixin, _DatabaseBackendTests,
                       db_base.OpportunisticTestCase):
    ARCHIVE = 'mysql'


class TestMySQLToPostgreSQL(db_base.MySQLMixin, _DatabaseBackendTests,
                            db_base.OpportunisticTestCase):
    ARCHIVE = 'postgresql'


class TestMySQLToSQLite(db_base.MySQLMixin, _DatabaseBackendTests,
                        db_base.OpportunisticTestCase):
    ARCHIVE = 'sqlite'


class TestPostgreSQLToPostgreSQL(db_base.PostgreSQLMixin,
                                 _DatabaseBackendTests,
                                 db_base.OpportunisticTestCase):
    ARCHIVE = 'postgresql'


class TestPostgreSQLToMySQL(db_base.PostgreSQLMixin, _DatabaseBackendTests,
                            db_base.OpportunisticTestCase):
    ARCHIVE = 'mysql'


class TestFilesFromMySQL(db_base.MySQLMixin, _FilesBackendTests,
                         db_base.OpportunisticTestCase):
    pass


class TestFilesFromPostgreSQL(db_base.PostgreSQLMixin, _FilesBackendTests,
                              db_base.OpportunisticTestCase):
    pass
