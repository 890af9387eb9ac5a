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

"""The census library on a real SQLite file: exact counts, reads only."""

import os

import fixtures
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.purge import census
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import target_schema

# Statements a census may send: reads, and the session settings that
# make the connection read-only. Anything else is a write.
READ_PREFIXES = ('SELECT', 'PRAGMA', 'SHOW', 'SET', 'START TRANSACTION')
WRITE_WORDS = ('INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER',
               'REPLACE', 'TRUNCATE')


def record_statements(engine):
    seen = []

    @event.listens_for(engine, 'before_cursor_execute')
    def _record(conn, cursor, statement, parameters, context, many):
        seen.append(statement)

    return seen


class _TargetMixin:
    """A target_schema database in a SQLite file of the test's own."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'target.sqlite')
        self.engine = sa.create_engine('sqlite:///' + self.path)
        self.addCleanup(self.engine.dispose)
        self.expected = target_schema.build(self.engine)


class TestCensus(_TargetMixin, base.TestCase):

    def _census(self, **kw):
        return census.census(self.engine, target='demo',
                             now=target_schema.NOW, **kw)

    def test_counts_per_table_are_exact(self):
        result = self._census()
        self.assertEqual(('demo', 'generic'),
                         (result['target'], result['profile']))
        got = {t['name']: (t['rows'], t['soft_deleted'], t['age_buckets'],
                           t['soft_delete_column'])
               for t in result['tables']}
        self.assertEqual(self.expected, got)

    def test_totals_add_up(self):
        totals = self._census()['totals']
        self.assertEqual(5, totals['tables'])
        self.assertEqual(4, totals['tables_with_soft_delete'])
        self.assertEqual(13 + 13 + 12 + 7 + 4, totals['rows'])
        self.assertEqual(10 + 10 + 9 + 4, totals['soft_deleted'])
        self.assertEqual({'lt_30d': 6, '30_90d': 9, '90_365d': 6,
                          'gt_365d': 6, 'unknown_age': 2 + 4},
                         totals['age_buckets'])

    def test_one_read_query_per_table_and_no_write(self):
        seen = record_statements(self.engine)
        before = os.path.getmtime(self.path), os.path.getsize(self.path)
        self._census()
        writes = [s for s in seen
                  if not s.lstrip().upper().startswith(READ_PREFIXES)
                  or any(w in s.upper().split() for w in WRITE_WORDS)]
        self.assertEqual([], writes)
        counts = [s for s in seen if 'count(*)' in s.lower()]
        self.assertEqual(len(self.expected), len(counts))
        self.assertIn('"select"', ' '.join(counts))
        self.assertEqual(before, (os.path.getmtime(self.path),
                                  os.path.getsize(self.path)))

    def test_connection_refuses_writes_during_census(self):
        # Proves the read-only guard is real, not just that we wrote
        # nothing: a write attempted from inside the census fails.
        def try_write(done, total, name):
            conn = self.census_conn
            conn.exec_driver_sql('DELETE FROM instances')

        @event.listens_for(self.engine, 'engine_connect')
        def _keep(conn):
            self.census_conn = conn

        exc = self.assertRaises(sa.exc.OperationalError, self._census,
                                on_table=try_write)
        self.assertIn('readonly', str(exc))
        with self.engine.connect() as conn:
            self.assertEqual(13, conn.exec_driver_sql(
                'SELECT count(*) FROM instances').scalar())

    def test_on_table_reports_progress_and_can_stop(self):
        calls = []

        class Stop(Exception):
            pass

        def on_table(done, total, name):
            calls.append((done, total, name))
            if done == 2:
                raise Stop()

        self.assertRaises(Stop, self._census, on_table=on_table)
        self.assertEqual([(0, 5, 'flag_only'), (1, 5, 'instances'),
                          (2, 5, 'select')], calls)

    def test_progress_ends_with_all_done(self):
        calls = []
        self._census(on_table=lambda *a: calls.append(a))
        self.assertEqual((5, 5, None), calls[-1])

    def test_classify_rules(self):
        dt = sa.DateTime()
        self.assertEqual('integer', census.classify(
            [{'name': 'deleted', 'type': sa.Integer()},
             {'name': 'deleted_at', 'type': dt}]).kind)
        self.assertEqual('boolean', census.classify(
            [{'name': 'deleted', 'type': sa.Boolean()}]).kind)
        self.assertEqual('deleted_at', census.classify(
            [{'name': 'deleted_at', 'type': dt}]).kind)
        self.assertIsNone(census.classify(
            [{'name': 'deleted', 'type': sa.String(3)}]))
        self.assertIsNone(census.classify(
            [{'name': 'deleted_at', 'type': sa.String(20)}]))
        self.assertIsNone(census.classify([{'name': 'id',
                                            'type': sa.Integer()}]))

    def test_empty_database(self):
        engine = sa.create_engine('sqlite:///' + self.path + '.empty')
        self.addCleanup(engine.dispose)
        result = census.census(engine, now=target_schema.NOW)
        self.assertEqual([], result['tables'])
        self.assertEqual(0, result['totals']['rows'])


class ShadowTablesTestCase(_TargetMixin, base.TestCase):
    """Archived rows: counted from each table's shadow twin."""

    def setUp(self):
        super().setUp()
        with self.engine.begin() as conn:
            # Archived copies keep their deleted flag, as nova's do.
            conn.exec_driver_sql('CREATE TABLE shadow_instances (id '
                                 'INTEGER PRIMARY KEY, deleted INTEGER, '
                                 'deleted_at DATETIME)')
            conn.exec_driver_sql(
                'INSERT INTO shadow_instances VALUES (101, 101, NULL), '
                '(102, 102, NULL), (103, 103, NULL)')
            conn.exec_driver_sql('CREATE TABLE shadow_volumes (id INTEGER '
                                 'PRIMARY KEY, deleted BOOLEAN)')
            # A shadow table without its source is an ordinary table.
            conn.exec_driver_sql('CREATE TABLE shadow_gone (id INTEGER '
                                 'PRIMARY KEY, deleted INTEGER)')
            conn.exec_driver_sql('INSERT INTO shadow_gone VALUES (1, 1)')

    def test_archived_beside_each_table(self):
        seen = record_statements(self.engine)
        result = census.census(self.engine, now=target_schema.NOW)
        tables = {t['name']: t for t in result['tables']}
        self.assertEqual(3, tables['instances']['archived'])
        self.assertEqual(0, tables['volumes']['archived'])
        for name in ('stack', 'flag_only', 'select', 'shadow_gone'):
            self.assertIsNone(tables[name]['archived'], name)
        # The twins report whose archive they are, and no soft-deleted
        # rows: archiving moves rows out of the soft-deleted count.
        self.assertEqual(
            {'rows': 3, 'soft_deleted': None, 'age_buckets': None,
             'shadow_of': 'instances', 'archived': None},
            {k: tables['shadow_instances'][k] for k in (
                'rows', 'soft_deleted', 'age_buckets', 'shadow_of',
                'archived')})
        self.assertEqual('volumes', tables['shadow_volumes']['shadow_of'])
        self.assertIsNone(tables['instances']['shadow_of'])
        self.assertIsNone(tables['shadow_gone']['shadow_of'])
        self.assertEqual(1, tables['shadow_gone']['soft_deleted'])
        # The source tables' own counts are unchanged by their archive.
        for name, (rows, deleted, buckets, column) in self.expected.items():
            self.assertEqual((rows, deleted, buckets, column),
                             (tables[name]['rows'],
                              tables[name]['soft_deleted'],
                              tables[name]['age_buckets'],
                              tables[name]['soft_delete_column']), name)
        totals = result['totals']
        self.assertEqual(3, totals['archived'])
        self.assertEqual(10 + 10 + 9 + 4 + 1, totals['soft_deleted'])
        self.assertEqual(4 + 1, totals['tables_with_soft_delete'])
        # Still one read per table, and nothing else.
        counts = [s for s in seen if 'count(*)' in s.lower()]
        self.assertEqual(len(tables), len(counts))
        self.assertEqual([], [s for s in seen if any(
            w in s.upper().split() for w in WRITE_WORDS)])

    def test_no_shadow_tables_means_nothing_archived(self):
        engine = sa.create_engine('sqlite:///' + self.path + '.plain')
        self.addCleanup(engine.dispose)
        target_schema.build(engine)
        result = census.census(engine, now=target_schema.NOW)
        self.assertEqual(0, result['totals']['archived'])
        for entry in result['tables']:
            self.assertIsNone(entry['archived'], entry['name'])
            self.assertIsNone(entry['shadow_of'], entry['name'])


class CensusLeavesPoolCleanTestCase(base.TestCase):

    def test_engine_still_writable_after_census(self):
        # The read-only guard is connection state; a census must not
        # leave a pooled connection that refuses the owner's writes.
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            't.sqlite')
        engine = sa.create_engine('sqlite:///' + path,
                                  poolclass=sa.pool.QueuePool)
        self.addCleanup(engine.dispose)
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE t (id INTEGER, deleted '
                                 'INTEGER, deleted_at DATETIME)')
        census.census(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql('INSERT INTO t VALUES (1, 0, NULL)')
            self.assertEqual(1, conn.exec_driver_sql(
                'SELECT COUNT(*) FROM t').scalar())
