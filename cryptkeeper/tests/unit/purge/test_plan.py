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

"""Plan mode on a real SQLite file: exact counts, and not one write."""

import hashlib
import os

import fixtures
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.purge import census
from cryptkeeper.purge import errors
from cryptkeeper.purge import params
from cryptkeeper.purge import plan
from cryptkeeper.tests.unit.purge import test_schema as fixture

READ_PREFIXES = ('SELECT', 'PRAGMA', 'SHOW', 'SET', 'START TRANSACTION')


def planned(result):
    return {name: entry['planned']
            for name, entry in result['tables'].items() if entry['planned']}


class TestPlan(fixture.SchemaTestCase):

    def plan(self, **data):
        p = params.Params.from_dict(data, now=fixture.NOW)
        return plan.plan(self.engine, 'nova', p, now=fixture.NOW)

    def test_counts_per_table(self):
        result = self.plan(older_than=30)
        self.assertEqual(fixture.EXPECTED_30D, planned(result))
        self.assertEqual(sum(fixture.EXPECTED_30D.values()),
                         result['totals']['planned'])
        self.assertEqual('nova', result['profile'])
        self.assertEqual('2025-05-02T12:00:00', result['cutoff'])
        self.assertEqual('succeeded', result['outcome'])

    def test_fk_conflicts_name_the_blocking_tables(self):
        result = self.plan(older_than=30)
        instances = result['tables']['instances']
        self.assertEqual(2, instances['fk_conflicts'])
        self.assertEqual(fixture.BLOCKED_BY_30D, instances['blocked_by'])
        self.assertEqual(2, result['totals']['fk_conflicts'])

    def test_age_buckets(self):
        tables = self.plan(older_than=30)['tables']
        empty = dict.fromkeys(census.BUCKET_NAMES, 0)
        self.assertEqual(dict(empty, **{'90_365d': 4}),
                         tables['instances']['age_buckets'])
        # Actions are aged by created_at, never soft-deleted themselves.
        self.assertEqual(dict(empty, **{'90_365d': 8}),
                         tables['instance_actions_events']['age_buckets'])
        # Live extra rows of a deleted instance: no deleted_at.
        self.assertEqual(dict(empty, unknown_age=4),
                         tables['instance_extra']['age_buckets'])

    def test_estimated_batches(self):
        tables = self.plan(older_than=30, batch_size=3)['tables']
        self.assertEqual((4, 2), (tables['instances']['as_root'],
                                  tables['instances']['estimated_batches']))
        # Rows of blocked or live instances start batches of their own.
        self.assertEqual(
            (7, 3), (tables['instance_system_metadata']['as_root'],
                     tables['instance_system_metadata'][
                         'estimated_batches']))
        self.assertEqual(0, tables['instance_actions']['estimated_batches'])

    def test_everything_includes_young_and_undated_rows(self):
        result = self.plan(older_than=0)
        # 1-4, young 7 and 8, and 9 whose deleted_at is empty.
        self.assertEqual(7, result['tables']['instances']['planned'])
        self.assertEqual(7 * 2, result['tables']['instance_actions'][
            'planned'])

    def test_project_scope(self):
        result = self.plan(older_than=30, project_id=fixture.PROJECT)
        got = planned(result)
        self.assertEqual(4, got['instances'])
        # No project_id column: only rows that go with their instance.
        self.assertEqual(12, got['instance_system_metadata'])
        other = self.plan(older_than=30, project_id=fixture.OTHER_PROJECT)
        self.assertEqual({}, planned(other))

    def test_opt_in_table_keeps_its_retention(self):
        result = self.plan(older_than=0, tables=['task_log'])
        self.assertEqual({'task_log': 1}, planned(result))
        self.assertEqual(['task_log'], result['roots'])
        self.assertEqual(['task_log'],
                         self.plan(older_than=0)['excluded_opt_in'])

    def test_orphans(self):
        fixture.add_orphan(self.engine)
        entry = self.plan(older_than=30)['tables'][
            'instance_system_metadata']
        self.assertEqual(1, entry['orphans'])
        self.assertEqual(
            {'instance_system_metadata(instance_uuid) -> instances(uuid)':
             1}, entry['orphans_by_edge'])

    def test_unknown_table(self):
        self.assertRaises(errors.UnknownTable, self.plan,
                          tables=['nope'])

    def test_followups_are_announced(self):
        follow, = self.plan(older_than=30)['followups']
        self.assertEqual(('nova_api', 'instances', 4),
                         (follow['target_profile'], follow['parent_table'],
                          follow['parent_rows']))

    def test_no_statement_writes_and_the_file_is_untouched(self):
        seen = []

        @event.listens_for(self.engine, 'before_cursor_execute')
        def _record(conn, cursor, statement, parameters, context, many):
            seen.append(statement)

        with open(self.path, 'rb') as f:
            before = hashlib.sha256(f.read()).hexdigest()
        stat = os.stat(self.path)
        self.plan(older_than=30)
        self.assertGreater(len(seen), 5)
        writes = [s for s in seen
                  if not s.lstrip().upper().startswith(READ_PREFIXES)]
        self.assertEqual([], writes)
        with open(self.path, 'rb') as f:
            self.assertEqual(before, hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(stat.st_mtime_ns, os.stat(self.path).st_mtime_ns)

    def test_the_database_refuses_writes_while_planning(self):
        conns = []

        @event.listens_for(self.engine, 'before_cursor_execute')
        def _record(conn, cursor, statement, parameters, context, many):
            conns.append(conn)

        refused = []

        def on_table(done, total, name):
            if name is None or refused:
                return
            conn = conns[-1]
            self.assertEqual(1, conn.exec_driver_sql(
                'PRAGMA query_only').scalar())
            try:
                conn.exec_driver_sql(
                    'DELETE FROM instance_system_metadata')
            except sa.exc.OperationalError as exc:
                refused.append(str(exc))

        p = params.Params.from_dict({'older_than': 30}, now=fixture.NOW)
        plan.plan(self.engine, 'nova', p, now=fixture.NOW,
                  on_table=on_table)
        self.assertEqual(1, len(refused))
        self.assertIn('readonly', refused[0].replace('-', '').replace(
            ' ', ''))
        # Every row still there: 3 per instance, and the live one's own.
        self.assertEqual(12 * 3 + 1,
                         len(self.rows('instance_system_metadata')))

    def test_on_table_sees_every_table_then_none(self):
        calls = []
        p = params.Params.from_dict({'older_than': 30}, now=fixture.NOW)
        result = plan.plan(self.engine, 'nova', p, now=fixture.NOW,
                           on_table=lambda *a: calls.append(a))
        self.assertEqual(len(result['tables']) + 1, len(calls))
        self.assertIsNone(calls[-1][2])
        self.assertEqual('instances', calls[0][2])


class TestSimulatedPlan(fixture.SchemaTestCase):
    """Past the predicate bounds, walking the batches counts the same."""

    def plan(self, **data):
        p = params.Params.from_dict(data, now=fixture.NOW)
        return plan.plan(self.engine, 'nova', p, now=fixture.NOW)

    def test_same_counts_both_ways(self):
        for data in ({'older_than': 30}, {'older_than': 0},
                     {'older_than': 30, 'project_id': fixture.PROJECT},
                     {'older_than': 30, 'batch_size': 2}):
            exact = self.plan(**data)
            with fixtures.MockPatchObject(plan, 'MAX_NODES', 1):
                walked = self.plan(**data)
            self.assertEqual('set-based', exact['method'])
            self.assertEqual('simulated', walked['method'])
            for name, entry in exact['tables'].items():
                other = walked['tables'][name]
                for key in ('planned', 'age_buckets', 'fk_conflicts'):
                    self.assertEqual(entry[key], other[key],
                                     (data, name, key))
            self.assertEqual(exact['totals']['planned'],
                             walked['totals']['planned'])

    def test_deep_graph_does_not_overflow_the_parser(self):
        # A chain of tables each referencing the one before, every one
        # soft-deleted: predicates nest deeper than SQLite parses.
        path = os.path.join(self.tmp, 'deep.sqlite')
        engine = fixture.sqlite_engine(path)
        self.addCleanup(engine.dispose)
        meta = sa.MetaData()
        previous = None
        for i in range(14):
            columns = [sa.Column('id', sa.Integer, primary_key=True),
                       sa.Column('deleted', sa.Integer),
                       sa.Column('deleted_at', sa.DateTime)]
            if previous is not None:
                columns.append(sa.Column('parent_id', sa.Integer,
                                         sa.ForeignKey(previous + '.id')))
            previous = 't%02d' % i
            sa.Table(previous, meta, *columns)
        meta.create_all(engine)
        with engine.begin() as conn:
            for i in range(14):
                conn.execute(meta.tables['t%02d' % i].insert(), [
                    dict({'id': 1, 'deleted': 1, 'deleted_at': fixture.OLD},
                         **({'parent_id': 1} if i else {}))])
        p = params.Params.from_dict({'older_than': 30}, now=fixture.NOW)
        result = plan.plan(engine, 'generic', p, now=fixture.NOW)
        self.assertEqual('simulated', result['method'])
        self.assertEqual(14, result['totals']['planned'])
        self.assertEqual({'t%02d' % i: 1 for i in range(14)},
                         {n: e['planned']
                          for n, e in result['tables'].items()})
