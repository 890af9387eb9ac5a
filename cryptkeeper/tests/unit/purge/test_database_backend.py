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

"""The archive-database backend on real SQLite source and archive files."""

import datetime
import os

import sqlalchemy as sa

from cryptkeeper.purge import backends
from cryptkeeper.purge.backends import database
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import rows as rows_mod
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.purge import test_restore as fx


class TestDatabaseBackend(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp, self.source, self.graph = fx.source_database(self)
        self.url = 'sqlite:///' + os.path.join(self.tmp, 'archive.sqlite')
        self.backend = self._backend()
        self.archive = sa.create_engine(self.url)
        self.addCleanup(self.archive.dispose)

    def _backend(self):
        backend = backends.get('database', url=self.url)
        self.addCleanup(backend.close)
        return backend

    def _rows(self, name, ids=None):
        return fx.source_rows(self.source, self.graph, name, ids)

    def _archived(self, name):
        with self.archive.connect() as conn:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            return [dict(r) for r in conn.execute(sa.select(table))
                    .mappings()]

    def _batch(self, seq=1):
        return journal_mod.Batch(seq=seq, root='instances', marker=[seq])

    def test_get(self):
        self.assertIsInstance(self.backend, database.DatabaseBackend)
        self.assertEqual('database', self.backend.kind)
        self.assertFalse(self.backend.atomic_with_source)
        self.assertRaises(errors.InvalidParams, backends.get, 'database')
        exc = self.assertRaises(errors.InvalidParams, backends.get, 'tape')
        self.assertIn('shadow, database, files', exc.message)

    def test_location_hides_the_password(self):
        backend = backends.get(
            'database', url='mysql+pymysql://ck:s3kr1t@db.example/archive')
        self.assertEqual('database', backend.location()['kind'])
        self.assertNotIn('s3kr1t', str(backend.location()))
        self.assertIn('db.example/archive', backend.location()['url'])

    def test_refuses_the_source_database_as_archive(self):
        path = os.path.join(self.tmp, 'source.sqlite')
        exc = self.assertRaises(
            errors.InvalidParams, backends.get, 'database',
            url='sqlite:///' + path,
            source_url='sqlite:///' + os.path.join(self.tmp, '.', 'source'
                                                   '.sqlite'))
        self.assertIn('target database itself', exc.message)
        # Without the source's URL, the live rows give it away, before
        # anything is written.
        backend = backends.get('database', url='sqlite:///' + path)
        self.addCleanup(backend.close)
        before = fx.snapshot(self.source, self.graph)
        exc = self.assertRaises(errors.PurgeError, backend.prepare,
                                self.graph, list(fx.TABLES))
        self.assertIn('not soft-deleted', exc.message)
        self.assertEqual(before, fx.snapshot(self.source, self.graph))

    def test_prepare_creates_tables_from_the_source(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        inspector = sa.inspect(self.archive)
        self.assertEqual(sorted(fx.TABLES),
                         sorted(inspector.get_table_names()))
        for name in fx.TABLES:
            source = self.graph.tables[name]
            self.assertEqual(
                [(c.name, database.type_family(c.type))
                 for c in source.columns],
                [(c['name'], database.type_family(c['type']))
                 for c in inspector.get_columns(name)], name)
            self.assertEqual(
                self.graph.pk(name),
                inspector.get_pk_constraint(name)['constrained_columns'])
            # No foreign keys: rows go in child-first and come out in any
            # order, and the parent may be purged first.
            self.assertEqual([], inspector.get_foreign_keys(name))
        self.assertEqual(
            [['deleted_at']],
            [i['column_names'] for i in inspector.get_indexes('instances')])
        # Preparing again finds the tables in order and changes nothing.
        self._backend().prepare(self.graph, list(fx.TABLES))

    def test_write_flush_verify(self):
        self.backend.prepare(self.graph, ['instances'])
        rows = self._rows('instances', [1, 2, 3])
        batch = self._batch()
        res = self.backend.write(None, self.graph.tables['instances'], rows,
                                 batch)
        expected = rows_mod.digest(rows, ['id'])
        self.assertEqual(expected, (res['rows'], res['sha256']))
        self.assertIn('#instances', res['location'])
        # Not committed yet: another connection sees nothing.
        self.assertEqual([], self._archived('instances'))
        keys = [[1], [2], [3]]
        # Inside the batch the backend sees its own rows.
        self.backend.verify(None, self.graph.tables['instances'], keys,
                            {'rows': 3, 'sha256': expected[1]})
        self.backend.flush(batch)
        archived = self._archived('instances')
        self.assertEqual(expected, rows_mod.digest(archived, ['id']))
        self.assertEqual(3, self.backend.contains('instances', keys))
        self.backend.verify(None, 'instances', keys,
                            {'rows': 3, 'sha256': expected[1]})
        self.assertEqual(sorted(rows, key=lambda r: r['id']),
                         sorted(self.backend.read('instances', keys),
                                key=lambda r: r['id']))

    def test_verify_catches_a_changed_or_missing_copy(self):
        self.backend.prepare(self.graph, ['instances'])
        rows = self._rows('instances', [1, 2])
        batch = self._batch()
        res = self.backend.write(None, 'instances', rows, batch)
        self.backend.flush(batch)
        expected = {'rows': res['rows'], 'sha256': res['sha256']}
        with self.archive.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE instances SET notes = 'edited' WHERE id = 2")
        exc = self.assertRaises(errors.VerificationFailed,
                                self.backend.verify, None, 'instances',
                                [[1], [2]], expected)
        self.assertIn('instances', exc.message)
        with self.archive.begin() as conn:
            conn.exec_driver_sql('DELETE FROM instances WHERE id = 2')
        exc = self.assertRaises(errors.VerificationFailed,
                                self.backend.verify, None, 'instances',
                                [[1], [2]], expected)
        self.assertIn('holds 1 rows', exc.message)

    def test_write_again_does_not_duplicate(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        batch = self._batch()
        rows = self._rows('instance_metadata', [10, 11, 12])
        self.backend.write(None, 'instance_metadata', rows, batch)
        # A retried batch writes again inside the same transaction...
        self.backend.write(None, 'instance_metadata', rows, batch)
        self.backend.flush(batch)
        # ... and a resumed one after the commit, with one row more.
        more = self._rows('instance_metadata', [10, 11, 12, 20])
        res = self.backend.write(None, 'instance_metadata', more, batch)
        self.backend.flush(batch)
        self.assertEqual(4, res['rows'])
        archived = self._archived('instance_metadata')
        self.assertEqual(rows_mod.digest(more, ['id']),
                         rows_mod.digest(archived, ['id']))

    def test_reused_key_with_other_content_is_refused(self):
        self.backend.prepare(self.graph, ['instances'])
        batch = self._batch()
        self.backend.write(None, 'instances', self._rows('instances', [1]),
                           batch)
        self.backend.flush(batch)
        # The source hands out id 1 again (InnoDB AUTO_INCREMENT after a
        # restart) for another instance: the first copy must survive.
        other = dict(self._rows('instances', [1])[0], uuid='other')
        exc = self.assertRaises(errors.VerificationFailed,
                                self.backend.write, None, 'instances',
                                [other] + self._rows('instances', [2]),
                                self._batch(2))
        self.assertIn('[1]', exc.message)
        self.backend.close()
        self.assertEqual(['00000000-0000-4000-8000-000000000001'],
                         [r['uuid'] for r in self._archived('instances')])

    def test_composite_keys(self):
        self.backend.prepare(self.graph, ['tags'])
        rows = [r for r in self._rows('tags')
                if r['resource_id'] in (fx.uuid_of(1), fx.uuid_of(2))]
        batch = self._batch()
        self.backend.write(None, 'tags', rows, batch)
        self.backend.flush(batch)
        keys = [[fx.uuid_of(1), 'blue'], [fx.uuid_of(2), 'green'],
                [fx.uuid_of(3), 'blue']]
        self.assertEqual(2, self.backend.contains('tags', keys))
        self.assertEqual(2, self.backend.remove('tags', keys))
        self.assertEqual(
            [(fx.uuid_of(1), 'green'), (fx.uuid_of(2), 'blue')],
            sorted((r['resource_id'], r['tag'])
                   for r in self._archived('tags')))

    def test_schema_drift_is_detected_before_any_write(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        with self.source.begin() as conn:
            conn.exec_driver_sql(
                'ALTER TABLE instances ADD COLUMN hostname VARCHAR(255)')
            conn.exec_driver_sql(
                'ALTER TABLE instance_faults DROP COLUMN message')
        with self.archive.begin() as conn:
            # The archive's code column became text by someone's hand.
            conn.exec_driver_sql('DROP TABLE instance_faults')
            conn.exec_driver_sql(
                'CREATE TABLE instance_faults (id INTEGER PRIMARY KEY, '
                'instance_uuid VARCHAR(36), code VARCHAR(10), '
                'message VARCHAR(255), created_at DATETIME, '
                'updated_at DATETIME, deleted_at DATETIME, '
                'deleted INTEGER)')
            conn.exec_driver_sql('DROP TABLE tags')
        graph = fx.reflect(self.source)
        backend = self._backend()
        exc = self.assertRaises(errors.SchemaMismatch, backend.prepare,
                                graph, list(fx.TABLES))
        self.assertIn('instances: columns missing in the archive: hostname',
                      exc.message)
        self.assertIn('instance_faults: columns only in the archive: '
                      'message', exc.message)
        self.assertIn('code (integer in the source, string in the archive)',
                      exc.message)
        self.assertEqual({'instances', 'instance_faults'}, set(exc.tables))
        self.assertEqual(['hostname'], exc.tables['instances']['missing'])
        # Checked before anything was created or written.
        self.assertNotIn('tags', sa.inspect(self.archive).get_table_names())

    def test_primary_key_drift(self):
        with self.archive.begin() as conn:
            conn.exec_driver_sql(
                'CREATE TABLE tags (resource_id VARCHAR(36) PRIMARY KEY, '
                'tag VARCHAR(80), created_at DATETIME)')
        exc = self.assertRaises(errors.SchemaMismatch, self.backend.prepare,
                                self.graph, ['tags'])
        self.assertIn('primary key (resource_id, tag in the source, '
                      'resource_id in the archive)', exc.message)

    def test_expire_by_age_in_bounded_steps(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        batch = self._batch()
        for name in fx.TABLES:
            self.backend.write(None, name, self._rows(name), batch)
        self.backend.flush(batch)
        # Instances 1..9 were deleted a little over 1..9 days before NOW;
        # 10..12 live ones (no deleted_at) fall back to created_at, 400
        # days ago.
        cutoff = fx.NOW - datetime.timedelta(days=5)
        got = []
        while True:
            n = self.backend.expire(self.graph.tables['instances'], cutoff,
                                    3)
            if not n:
                break
            got.append(n)
        self.assertEqual([3, 3, 2], got)
        self.assertEqual(
            [1, 2, 3, 4],
            sorted(r['id'] for r in self._archived('instances')))
        # tags have no deleted_at: created_at dates them.
        self.assertEqual(24, self.backend.expire('tags', cutoff, 100))
        self.assertEqual([], self._archived('tags'))
        self.assertEqual(0, self.backend.expire('no_such_table', cutoff, 5))

    def test_profile_age_column_comes_first(self):
        class Graph:
            tables = self.graph.tables

            def age_column(self, name):
                return 'created_at'

        self.backend.prepare(self.graph, ['instance_faults'])
        self.backend.bind_graph(Graph())
        self.assertEqual(['created_at', 'deleted_at', 'updated_at'],
                         self.backend.age_columns('instance_faults'))

    def test_a_failed_write_drops_the_whole_batch(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        first = self._batch(1)
        self.backend.write(None, 'instance_faults',
                           self._rows('instance_faults', [1]), first)
        self.backend.flush(first)
        batch = self._batch(2)
        self.backend.write(None, 'instances', self._rows('instances', [2]),
                           batch)
        clashing = dict(self._rows('instance_faults', [1])[0], code=1)
        self.assertRaises(errors.VerificationFailed, self.backend.write,
                          None, 'instance_faults', [clashing], batch)
        # Nothing of batch 2 survives to be committed by a later flush.
        self.backend.flush(batch)
        self.assertEqual([], self._archived('instances'))
        # A retry of the batch starts afresh and goes through.
        self.backend.write(None, 'instances', self._rows('instances', [2]),
                           batch)
        self.backend.flush(batch)
        self.assertEqual([2], [r['id'] for r in self._archived('instances')])
