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

"""The purge engine on real Nova cell and API databases.

Each class loads deleted and live instances into a schema built by
nova-manage, plans, then archives everything deleted more than 30 days
ago into the shadow tables; the archive is killed once mid-batch and
resumed. What must have moved is worked out apart from the engine, from
the data itself.
"""

import contextlib
import uuid

from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.purge.backends import shadow
from cryptkeeper.purge import census
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import plan as purge_plan
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.purge import schema
from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import nova
from cryptkeeper.tests.local_fixtures import nova_data

AGES = (5, 45, 200, 500)
OLDER_THAN = 30
DELETED = 48
LIVE = 10
# Small batches: several per table, and a crash in the middle of them.
BATCH = 10
CRASH_AT_VERIFY = 7
API_TABLES = ('instance_mappings', 'request_specs')
READ_PREFIXES = ('SELECT', 'PRAGMA', 'SHOW', 'SET', 'START TRANSACTION')


class Crash(Exception):
    """Stands for a worker killed in the middle of a batch."""


class CrashingShadow(shadow.ShadowBackend):
    """The real shadow backend, dying in the middle of a later batch."""

    calls = 0

    def verify(self, conn, table, keys, expected):
        self.calls += 1
        if self.calls == CRASH_AT_VERIFY:
            raise Crash()
        return super().verify(conn, table, keys, expected)


def snapshot(engine, names):
    out = {}
    with engine.connect() as conn:
        for name in names:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            pk = [c.name for c in table.primary_key.columns]
            out[name] = {tuple(r[c] for c in pk): dict(r)
                         for r in conn.execute(sa.select(table)).mappings()}
    return out


@contextlib.contextmanager
def select_only_engine(backend, url):
    """An engine on ``url`` whose database user may only SELECT.

    SQLite has no users: the file is opened read-only instead.
    """
    url = sa.engine.make_url(url)
    if backend == 'sqlite':
        engine = sa.create_engine('sqlite:///file:%s?mode=ro&uri=true'
                                  % url.database)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    user = 'ck_ro_%s' % uuid.uuid4().hex[:10]
    password = uuid.uuid4().hex
    admin = sa.create_engine(url)
    db = url.database
    if backend == 'mysql':
        # The driver formats with %: a literal % is written %%.
        grants = [f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'",
                  f"GRANT SELECT ON `{db}`.* TO '{user}'@'%%'"]
        revokes = [f"DROP USER '{user}'@'%%'"]
    else:
        grants = [f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
                  f'GRANT CONNECT ON DATABASE {db} TO {user}',
                  f'GRANT USAGE ON SCHEMA public TO {user}',
                  f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}']
        revokes = [f'REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {user}',
                   f'REVOKE USAGE ON SCHEMA public FROM {user}',
                   f'REVOKE CONNECT ON DATABASE {db} FROM {user}',
                   f'DROP ROLE {user}']
    with admin.begin() as conn:
        for statement in grants:
            conn.exec_driver_sql(statement)
    engine = sa.create_engine(url.set(username=user, password=password))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            for statement in revokes:
                conn.exec_driver_sql(statement)
        admin.dispose()


def digest(rows):
    return purge_rows.digest(rows, ['id'])


class _NovaPurgeTest(nova.NovaSchemaPerClass):
    """A mixin, so that the loader finds only the concrete backends."""

    @classmethod
    def load_class_data(cls):
        dbs = cls.dbs
        now = timeutils.utcnow().replace(microsecond=0)
        cls.summary = nova_data.load(dbs.cell_engine, dbs.api_engine,
                                     deleted=DELETED, live=LIVE, ages=AGES,
                                     now=now)
        with dbs.cell_engine.begin() as conn:
            # An enum column with values: on PostgreSQL the source and
            # shadow columns have two different enum types.
            conn.execute(sa.text(
                "UPDATE instances SET locked_by = 'admin' "
                "WHERE MOD(id, 3) = 0"))
        cls.params = purge_params.Params.from_dict(
            {'mode': 'archive', 'older_than': OLDER_THAN,
             'batch_size': BATCH}, now=now)
        cls.cutoff = cls.params.cutoff()
        cls.cell_before = snapshot(dbs.cell_engine, nova_data.CELL_TABLES)
        cls.api_before = snapshot(dbs.api_engine, API_TABLES)
        cls.expected = cls._oracle()

        statements = []
        engine = sa.create_engine(dbs.cell_url)
        event.listen(engine, 'before_cursor_execute',
                     lambda c, cur, stmt, *a: statements.append(stmt))
        try:
            cls.plan = purge_plan.plan(engine, 'nova', cls.params, now=now)
        finally:
            engine.dispose()
        cls.plan_statements = statements
        with select_only_engine(cls.BACKEND, dbs.cell_url) as engine:
            cls.select_only_plan = purge_plan.plan(engine, 'nova',
                                                   cls.params, now=now)
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text(
                        'DELETE FROM instance_system_metadata'))
            except sa.exc.DBAPIError as exc:
                cls.select_only_refused = str(exc)
            else:
                cls.select_only_refused = None

        cls.graph = schema.reflect(dbs.cell_engine, 'nova')
        api_graph = schema.reflect(dbs.api_engine, 'nova_api')
        cls.journal = purge_journal.MemoryJournal()

        def archive(backend):
            return executor.archive(
                dbs.cell_engine, cls.graph, backend, cls.params,
                cls.journal, now=now,
                api=(dbs.api_engine, api_graph,
                     shadow.ShadowBackend(engine=dbs.api_engine)))

        try:
            archive(CrashingShadow(engine=dbs.cell_engine))
        except Crash:
            cls.crashed = len(cls.journal.pending())
        else:
            cls.crashed = None
        cls.result = archive(shadow.ShadowBackend(engine=dbs.cell_engine))

        cls.cell_after = snapshot(dbs.cell_engine, nova_data.CELL_TABLES)
        cls.api_after = snapshot(dbs.api_engine, API_TABLES)
        cls.cell_shadow = snapshot(dbs.cell_engine, [
            'shadow_' + n for n in nova_data.CELL_TABLES])
        cls.api_shadow = snapshot(dbs.api_engine, [
            'shadow_' + n for n in API_TABLES])
        cls.census = census.census(dbs.cell_engine, profile='nova', now=now)
        # Nova's own tool must understand the shadow tables.
        cls.nova.nova_manage('db', 'purge', '--all', ok_codes=(0, 3))
        cls.shadow_after_nova_purge = {
            name: len(rows) for name, rows in snapshot(
                dbs.cell_engine, ['shadow_' + n for n in
                                  nova_data.CELL_TABLES]).items()}

    @classmethod
    def _oracle(cls):
        """{table: ids} that must move: old deleted instances' trees."""
        before = cls.cell_before
        gone = {k: r for k, r in before['instances'].items()
                if r['deleted'] and r['deleted_at'] is not None and
                r['deleted_at'] < cls.cutoff}
        uuids = {r['uuid'] for r in gone.values()}
        expected = {'instances': set(gone)}
        for name in nova_data.CELL_TABLES:
            if name in ('instances', 'instance_actions_events'):
                continue
            expected[name] = {k for k, r in before[name].items()
                              if r['instance_uuid'] in uuids}
        actions = {k[0] for k in expected['instance_actions']}
        expected['instance_actions_events'] = {
            k for k, r in before['instance_actions_events'].items()
            if r['action_id'] in actions}
        cls.gone_uuids = uuids
        return expected

    def test_the_data_exercises_the_cutoff(self):
        self.assertEqual(DELETED * 3 // 4, len(self.expected['instances']))
        self.assertGreater(len(self.before_live('instances')), LIVE)

    def before_live(self, name):
        return [k for k in self.cell_before[name]
                if k not in self.expected[name]]

    def test_the_crash_left_a_batch_to_settle(self):
        self.assertEqual(1, self.crashed)
        self.assertEqual([], self.journal.pending())
        self.assertEqual(0, self.result['retries'])

    def test_no_old_soft_deleted_row_remains(self):
        with self.dbs.cell_engine.connect() as conn:
            for name in self.graph.roots():
                table = self.graph.tables[name]
                where = self.graph.root_clause(name, table, self.cutoff,
                                               self.params.now)
                n = conn.execute(sa.select(sa.func.count()).select_from(
                    table).where(where)).scalar()
                self.assertEqual(0, n, name)
        for name, rows in self.cell_after.items():
            old = [r for r in rows.values() if r.get('deleted') and
                   r.get('deleted_at') is not None and
                   r['deleted_at'] < self.cutoff]
            self.assertEqual([], old, name)

    def test_exactly_the_expected_rows_moved(self):
        for name in nova_data.CELL_TABLES:
            moved = set(self.cell_before[name]) - set(self.cell_after[name])
            self.assertEqual(self.expected[name], moved, name)
            self.assertGreater(len(moved), 0, name)

    def test_every_removed_row_is_in_its_shadow_table(self):
        for name in nova_data.CELL_TABLES:
            removed = [self.cell_before[name][k]
                       for k in self.expected[name]]
            copies = self.cell_shadow['shadow_' + name]
            self.assertEqual(set(self.expected[name]), set(copies), name)
            self.assertEqual(digest(removed), digest(copies.values()), name)

    def test_live_and_young_rows_untouched(self):
        for name in nova_data.CELL_TABLES:
            kept = [self.cell_before[name][k] for k in self.before_live(name)]
            self.assertEqual(digest(kept),
                             digest(self.cell_after[name].values()), name)

    def test_enum_values_survive(self):
        locked = [r for k, r in self.cell_before['instances'].items()
                  if k in self.expected['instances'] and r['locked_by']]
        self.assertGreater(len(locked), 0)
        copies = self.cell_shadow['shadow_instances']
        for row in locked:
            self.assertEqual('admin', copies[(row['id'],)]['locked_by'])

    def test_counts_equal_plan_and_expectation(self):
        for name in nova_data.CELL_TABLES:
            n = len(self.expected[name])
            self.assertEqual(n, self.plan['tables'][name]['planned'], name)
            self.assertEqual(n, self.result['tables'][name]['archived'],
                             name)
            self.assertEqual(n, self.result['tables'][name]['deleted'],
                             name)
        self.assertEqual(self.plan['totals']['planned'],
                         self.result['totals']['archived'])
        self.assertEqual(sum(len(v) for v in self.expected.values()),
                         self.result['totals']['archived'])

    def test_journal_checksums_are_the_rows(self):
        by_table = {}
        for batch in self.journal.batches():
            for name, keys in batch.keys.items():
                rows = [self.cell_before[name][tuple(k)] for k in keys]
                self.assertEqual((batch.counts[name],
                                  batch.checksums[name]),
                                 digest(rows), name)
                by_table[name] = by_table.get(name, 0) + len(keys)
        self.assertEqual({n: len(v) for n, v in self.expected.items()},
                         by_table)

    def test_outcome(self):
        self.assertEqual('succeeded', self.result['outcome'],
                         self.result.get('reason'))
        self.assertEqual({}, self.result['left'])
        self.assertEqual({'kind': 'shadow',
                          'tables': 'shadow_<table> in the target'},
                         self.result['location'])

    def test_api_rows_of_archived_instances_are_archived(self):
        for name in API_TABLES:
            before = self.api_before[name]
            gone = {k for k, r in before.items()
                    if r['instance_uuid'] in self.gone_uuids}
            self.assertEqual(len(self.expected['instances']), len(gone))
            self.assertEqual(set(before) - gone, set(self.api_after[name]),
                             name)
            copies = self.api_shadow['shadow_' + name]
            self.assertEqual(digest([before[k] for k in gone]),
                             digest(copies.values()), name)
            self.assertEqual(len(gone), self.result['followups']['tables'][
                name]['archived'], name)

    def test_census_agrees(self):
        tables = {t['name']: t for t in self.census['tables']}
        for name in nova_data.CELL_TABLES:
            left = [r for r in self.cell_after[name].values()
                    if r['deleted']]
            self.assertEqual(len(left), tables[name]['soft_deleted'], name)
            buckets = tables[name]['age_buckets']
            self.assertEqual(len(left), buckets['lt_30d'], name)
            self.assertEqual(len(self.cell_after[name]),
                             tables[name]['rows'], name)

    def test_plan_counts_set_based(self):
        # Nova's graph is shallow: one aggregate per table, no walking.
        self.assertEqual('set-based', self.plan['method'])

    def test_plan_sent_no_write(self):
        self.assertGreater(len(self.plan_statements), 10)
        writes = [s for s in self.plan_statements
                  if not s.lstrip().upper().startswith(READ_PREFIXES)]
        self.assertEqual([], writes)

    def test_plan_with_a_select_only_user(self):
        # The same user could not delete: the plan needed no more.
        self.assertIsNotNone(self.select_only_refused)
        self.assertEqual(
            {n: e['planned'] for n, e in self.plan['tables'].items()},
            {n: e['planned']
             for n, e in self.select_only_plan['tables'].items()})

    def test_nova_manage_purge_reads_our_shadow_tables(self):
        for name in nova_data.CELL_TABLES:
            self.assertEqual(0, self.shadow_after_nova_purge[
                'shadow_' + name], name)


class TestPurgeEngineNovaSQLite(_NovaPurgeTest, base.TestCase):
    BACKEND = 'sqlite'


class TestPurgeEngineNovaMySQL(_NovaPurgeTest, base.TestCase):
    BACKEND = 'mysql'


class TestPurgeEngineNovaPostgreSQL(_NovaPurgeTest, base.TestCase):
    BACKEND = 'postgresql'
