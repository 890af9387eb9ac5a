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

"""The shadow-table archive backend on a real SQLite file."""

import datetime

import sqlalchemy as sa

from cryptkeeper.purge.backends import shadow
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.purge import schema
from cryptkeeper.tests.unit.purge import test_schema as fixture

TABLES = ['instances', 'instance_system_metadata', 'instance_actions']


class ShadowTestCase(fixture.SchemaTestCase):

    def setUp(self):
        super().setUp()
        self.graph = schema.reflect(self.engine, 'nova')
        self.backend = shadow.ShadowBackend(engine=self.engine,
                                            job_id='ignored')
        self.batch = journal.Batch(seq=1, root='instances', marker=[])

    def source(self, name, where=None):
        table = self.graph.tables[name]
        stmt = sa.select(table)
        if where is not None:
            stmt = stmt.where(where)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]


class TestPrepare(ShadowTestCase):

    def test_creates_missing_shadow_tables_from_the_source(self):
        self.backend.prepare(self.graph, TABLES)
        inspector = sa.inspect(self.engine)
        names = set(inspector.get_table_names())
        for name in TABLES:
            self.assertIn('shadow_' + name, names)
            source = [c['name'] for c in inspector.get_columns(name)]
            copy = [c['name'] for c in inspector.get_columns(
                'shadow_' + name)]
            self.assertEqual(source, copy)
        created = 'shadow_instance_system_metadata'
        self.assertEqual(['id'], inspector.get_pk_constraint(created)[
            'constrained_columns'])
        # An archive keeps rows whose parents are gone: no keys to others.
        self.assertEqual([], inspector.get_foreign_keys(created))
        self.assertEqual([], inspector.get_unique_constraints(created))

    def test_existing_shadow_table_is_used_when_it_matches(self):
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO shadow_instances (id, uuid, deleted) "
                "VALUES (900, 'old', 900)")
        self.backend.prepare(self.graph, ['instances'])
        self.assertEqual(1, self.backend.contains('instances', [[900]]))

    def _mismatch(self, ddl):
        with self.engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE shadow_instances')
            conn.exec_driver_sql(ddl)
        return self.assertRaises(errors.SchemaMismatch, self.backend.prepare,
                                 self.graph, ['instances'])

    def test_missing_and_extra_columns_are_named(self):
        exc = self._mismatch(
            'CREATE TABLE shadow_instances (id INTEGER PRIMARY KEY, '
            'uuid VARCHAR(36), project_id VARCHAR(36), locked_by '
            'VARCHAR(5), created_at DATETIME, deleted_at DATETIME, '
            'deleted INTEGER, cell_name VARCHAR(255))')
        self.assertIn('shadow_instances', exc.message)
        self.assertIn('cell_name', exc.message)
        exc = self._mismatch(
            'CREATE TABLE shadow_instances (id INTEGER PRIMARY KEY, '
            'uuid VARCHAR(36), created_at DATETIME, deleted_at DATETIME, '
            'deleted INTEGER)')
        self.assertIn('missing column(s) project_id, locked_by',
                      exc.message)

    def test_type_and_length_changes_are_named(self):
        exc = self._mismatch(
            'CREATE TABLE shadow_instances (id INTEGER PRIMARY KEY, '
            'uuid VARCHAR(20), project_id INTEGER, locked_by VARCHAR(5), '
            'created_at DATETIME, deleted_at DATETIME, deleted INTEGER)')
        self.assertIn('project_id is text in the source but integer',
                      exc.message)
        self.assertIn('uuid holds 36 characters in the source but 20',
                      exc.message)

    def test_location_has_no_secret(self):
        self.assertEqual({'kind': 'shadow',
                          'tables': 'shadow_<table> in the target'},
                         self.backend.location())
        self.assertTrue(self.backend.atomic_with_source)
        self.assertEqual('shadow', self.backend.kind)

    def test_needs_the_target_engine(self):
        self.assertRaises(errors.PurgeError, shadow.ShadowBackend)


class TestBatch(ShadowTestCase):

    def setUp(self):
        super().setUp()
        self.backend.prepare(self.graph, TABLES)
        self.table = self.graph.tables['instance_system_metadata']
        self.rows = self.source('instance_system_metadata',
                                self.table.c.id <= 6)
        self.keys = [[r['id']] for r in self.rows]
        n, self.sha = purge_rows.digest(self.rows, ['id'])
        self.expected = {'rows': n, 'sha256': self.sha}

    def write(self, conn):
        return self.backend.write(conn, self.table, self.rows, self.batch)

    def test_write_and_verify_in_the_source_transaction(self):
        with self.engine.begin() as conn:
            written = self.write(conn)
            self.backend.verify(conn, self.table, self.keys, self.expected)
        self.assertEqual({'rows': 6, 'sha256': self.sha,
                          'location': 'shadow_instance_system_metadata'},
                         written)
        copies = list(self.backend.read(self.table, self.keys))
        self.assertEqual((6, self.sha), purge_rows.digest(copies, ['id']))
        self.assertEqual(6, self.backend.contains(self.table, self.keys))

    def test_rolled_back_write_leaves_nothing(self):
        with self.engine.connect() as conn:
            with conn.begin() as trans:
                self.write(conn)
                trans.rollback()
        self.assertEqual(0, self.backend.contains(self.table, self.keys))

    def test_verify_catches_a_changed_copy(self):
        with self.engine.begin() as conn:
            self.write(conn)
            conn.exec_driver_sql(
                "UPDATE shadow_instance_system_metadata SET value = 'x' "
                "WHERE id = 2")
            exc = self.assertRaises(errors.VerificationFailed,
                                    self.backend.verify, conn, self.table,
                                    self.keys, self.expected)
            self.assertIn('5 of them equal', exc.message)

    def test_verify_catches_a_missing_copy(self):
        with self.engine.begin() as conn:
            self.write(conn)
            conn.exec_driver_sql(
                'DELETE FROM shadow_instance_system_metadata WHERE id = 3')
            exc = self.assertRaises(errors.VerificationFailed,
                                    self.backend.verify, conn, self.table,
                                    self.keys, self.expected)
            self.assertIn('holds 5 rows for the 6 keys', exc.message)

    def test_keys_archived_before_are_named(self):
        with self.engine.begin() as conn:
            self.write(conn)
        with self.engine.connect() as conn:
            exc = self.assertRaises(errors.PurgeError, self.write, conn)
            conn.rollback()
        self.assertIn('shadow_instance_system_metadata already holds',
                      exc.message)
        self.assertIn('[1], [2]', exc.message)

    def test_null_equals_null_in_verification(self):
        # Live rows of the fixture have no deleted_at: NULL = NULL here.
        rows = self.source('instance_actions')
        table = self.graph.tables['instance_actions']
        n, sha = purge_rows.digest(rows, ['id'])
        with self.engine.begin() as conn:
            self.backend.write(conn, table, rows, self.batch)
            self.backend.verify(conn, table, [[r['id']] for r in rows],
                                {'rows': n, 'sha256': sha})

    def test_remove(self):
        with self.engine.begin() as conn:
            self.write(conn)
        self.assertEqual(2, self.backend.remove(self.table, self.keys[:2]))
        self.assertEqual(4, self.backend.contains(self.table, self.keys))
        with self.engine.begin() as conn:
            self.assertEqual(4, self.backend.remove(self.table, self.keys,
                                                    conn=conn))

    def test_unknown_shadow_table_holds_nothing(self):
        other = shadow.ShadowBackend(engine=self.engine)
        self.assertEqual(0, other.contains('share_mapping', [[1]]))
        self.assertEqual([], list(other.read('share_mapping', [[1]])))
        self.assertEqual(0, other.expire('share_mapping',
                                         fixture.NOW, 10))


class TestExpire(ShadowTestCase):

    def setUp(self):
        super().setUp()
        self.backend.prepare(self.graph, TABLES)
        day = datetime.timedelta(days=1)
        with self.engine.begin() as conn:
            table = self.backend._table('instance_system_metadata')
            conn.execute(table.insert(), [
                {'id': i, 'instance_uuid': 'u', 'key': 'k', 'deleted': i,
                 'deleted_at': fixture.NOW - (200 if i <= 7 else 5) * day}
                for i in range(1, 11)])
            actions = self.backend._table('instance_actions')
            # No deleted_at: the profile ages actions by created_at.
            conn.execute(actions.insert(), [
                {'id': i, 'instance_uuid': 'u', 'deleted': 0,
                 'created_at': fixture.NOW - (200 if i <= 2 else 5) * day}
                for i in range(1, 4)])

    def test_expires_in_batches_until_none_is_left(self):
        older = fixture.NOW - datetime.timedelta(days=90)
        name = 'instance_system_metadata'
        self.assertEqual(3, self.backend.expire(name, older, 3))
        self.assertEqual(3, self.backend.expire(name, older, 3))
        self.assertEqual(1, self.backend.expire(name, older, 3))
        self.assertEqual(0, self.backend.expire(name, older, 3))
        self.assertEqual(3, self.backend.contains(
            name, [[i] for i in range(1, 11)]))

    def test_age_column_of_the_profile(self):
        older = fixture.NOW - datetime.timedelta(days=90)
        self.assertEqual(2, self.backend.expire(
            self.graph.tables['instance_actions'], older, 100))

    def test_fallback_age_without_a_graph(self):
        # Reflected on first use, aged by deleted_at then created_at.
        other = shadow.ShadowBackend(engine=self.engine)
        older = fixture.NOW - datetime.timedelta(days=90)
        self.assertEqual(2, other.expire('instance_actions', older, 100))
