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

"""Checks that the real Nova schemas build and the test data loads as said."""

import datetime
import json
import time

import fixtures
import sqlalchemy as sa
from testtools import content

from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import nova
from cryptkeeper.tests.local_fixtures import nova_data

DELETED = 40
LIVE = 12


class _NovaFixtureTest(nova.NovaSchemaPerClass):
    """One schema and one data set per class: a sync costs seconds.

    A mixin, so that the loader finds only the concrete backends' classes.
    """

    @classmethod
    def load_class_data(cls):
        t0 = time.monotonic()
        cls.summary = nova_data.load(cls.dbs.cell_engine,
                                     cls.dbs.api_engine,
                                     deleted=DELETED, live=LIVE)
        cls.load_time = time.monotonic() - t0

    def setUp(self):
        super().setUp()
        timings = dict(self.nova.timings, load=self.load_time,
                       installed=self.nova.installed)
        self.addDetail('nova_timings',
                       content.text_content(json.dumps(timings)))

    def _tables(self, engine):
        meta = sa.MetaData()
        meta.reflect(engine)
        return meta.tables

    def _count(self, engine, table, *where):
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count())
                                .select_from(table).where(*where)).scalar()

    def test_cell_schema_is_nova_s(self):
        names = set(sa.inspect(self.dbs.cell_engine).get_table_names())
        shadows = {n for n in names if n.startswith('shadow_')}
        tables = names - shadows - {'alembic_version'}
        # Nova 34: 58 tables and 52 shadow tables. A lower bound only, so a
        # later release that adds tables still passes.
        self.assertGreaterEqual(len(tables), 55, sorted(tables))
        self.assertGreaterEqual(len(shadows), 50, sorted(shadows))
        self.assertIn('alembic_version', names)
        for name in nova_data.CELL_TABLES:
            self.assertIn(name, tables)
            self.assertIn('shadow_' + name, shadows)
        # Every shadow table shadows a real one (Nova even shadows
        # alembic_version).
        self.assertEqual(set(), {s[len('shadow_'):] for s in shadows} -
                         names)

    def test_api_schema_is_nova_s(self):
        names = set(sa.inspect(self.dbs.api_engine).get_table_names())
        for name in ('cell_mappings', 'host_mappings', 'alembic_version',
                     *nova_data.API_TABLES):
            self.assertIn(name, names)
        self.assertFalse([n for n in names if n.startswith('shadow_')])

    def test_nova_manage_reports_synced_versions(self):
        for args in (('db', 'version'), ('api_db', 'version')):
            rc, out = self.nova.nova_manage(*args)
            self.assertEqual(0, rc)
            # An alembic revision id, not "None": the sync really ran.
            self.assertRegex(out.strip().splitlines()[-1], r'^[0-9a-f]{12}$')

    def test_nova_manage_failure_raises_with_output(self):
        exc = self.assertRaises(nova.NovaFixtureError,
                                self.nova.nova_manage, 'db', 'no-such-cmd')
        self.assertIn('nova-manage db no-such-cmd exited', str(exc))
        self.assertIn('no-such-cmd', str(exc).split('(tail) ---', 1)[1])

    def test_summary_says_what_was_asked(self):
        self.assertEqual({'deleted': DELETED, 'live': LIVE},
                         self.summary['instances'])
        per_age = DELETED // len(nova_data.DEFAULT_AGES)
        self.assertEqual(dict.fromkeys(nova_data.DEFAULT_AGES, per_age),
                         self.summary['ages'])
        sysmeta = self.summary['cell']['instance_system_metadata']
        self.assertEqual({'rows': 5 * (DELETED + LIVE),
                          'soft_deleted': 5 * DELETED,
                          'of_deleted_instances': 5 * DELETED,
                          'of_live_instances': 5 * LIVE},
                         {k: v for k, v in sysmeta.items()
                          if k != 'soft_deleted_by_age'})

    def test_cell_counts_match_summary(self):
        tables = self._tables(self.dbs.cell_engine)
        now = self.summary['now']
        for name, stats in self.summary['cell'].items():
            table = tables[name]
            self.assertEqual(stats['rows'],
                             self._count(self.dbs.cell_engine, table), name)
            self.assertEqual(
                stats['soft_deleted'],
                self._count(self.dbs.cell_engine, table,
                            table.c.deleted != 0), name)
            # Nova's convention: a soft-deleted row has deleted = its id.
            self.assertEqual(
                0, self._count(self.dbs.cell_engine, table,
                               table.c.deleted != 0,
                               table.c.deleted != table.c.id), name)
            for days, rows in stats['soft_deleted_by_age'].items():
                deleted_at = now - datetime.timedelta(days=days)
                self.assertEqual(
                    rows, self._count(self.dbs.cell_engine, table,
                                      table.c.deleted != 0,
                                      table.c.deleted_at == deleted_at),
                    f'{name} deleted {days} days ago')
            self.assertEqual(stats['soft_deleted'],
                             sum(stats['soft_deleted_by_age'].values()))

    def test_deleted_instances_look_deleted(self):
        tables = self._tables(self.dbs.cell_engine)
        inst = tables['instances']
        engine = self.dbs.cell_engine
        self.assertEqual(DELETED, self._count(
            engine, inst, inst.c.deleted != 0, inst.c.vm_state == 'deleted',
            inst.c.deleted_at.isnot(None),
            inst.c.terminated_at == inst.c.deleted_at))
        self.assertEqual(LIVE, self._count(
            engine, inst, inst.c.deleted == 0, inst.c.vm_state == 'active',
            inst.c.deleted_at.is_(None)))
        # Soft-deleted children were deleted with their instance.
        for name in nova_data.NOVA_SOFT_DELETED_CHILDREN:
            child = tables[name]
            joined = child.join(inst,
                                child.c.instance_uuid == inst.c.uuid)
            with engine.connect() as conn:
                mismatched = conn.execute(
                    sa.select(sa.func.count()).select_from(joined).where(
                        (child.c.deleted != 0) != (inst.c.deleted != 0))
                ).scalar()
                same_time = conn.execute(
                    sa.select(sa.func.count()).select_from(joined).where(
                        child.c.deleted != 0,
                        child.c.deleted_at == inst.c.deleted_at)).scalar()
            self.assertEqual(0, mismatched, name)
            self.assertEqual(self.summary['cell'][name]['soft_deleted'],
                             same_time, name)

    def test_actions_and_events_are_never_soft_deleted(self):
        tables = self._tables(self.dbs.cell_engine)
        for name in ('instance_actions', 'instance_actions_events'):
            table = tables[name]
            self.assertEqual(0, self._count(self.dbs.cell_engine, table,
                                            table.c.deleted != 0))
            self.assertEqual(2 * (DELETED + LIVE),
                             self._count(self.dbs.cell_engine, table))
        actions = tables['instance_actions']
        self.assertEqual(DELETED, self._count(
            self.dbs.cell_engine, actions, actions.c.action == 'delete'))

    def test_every_instance_has_a_client_token(self):
        tables = self._tables(self.dbs.cell_engine)
        sysmeta = tables['instance_system_metadata']
        token = sysmeta.c.key == nova_data.CLIENT_TOKEN_KEY
        self.assertEqual(DELETED + LIVE,
                         self._count(self.dbs.cell_engine, sysmeta, token))
        self.assertEqual(DELETED, self._count(
            self.dbs.cell_engine, sysmeta, token, sysmeta.c.deleted != 0))
        with self.dbs.cell_engine.connect() as conn:
            distinct = conn.execute(sa.select(
                sa.func.count(sa.distinct(sysmeta.c.value))).where(
                    token)).scalar()
        self.assertEqual(DELETED + LIVE, distinct)

    def test_api_db_maps_every_instance(self):
        cell_tables = self._tables(self.dbs.cell_engine)
        api_tables = self._tables(self.dbs.api_engine)
        with self.dbs.cell_engine.connect() as conn:
            inst = cell_tables['instances']
            deleted = set(conn.execute(sa.select(inst.c.uuid).where(
                inst.c.deleted != 0)).scalars())
            live = set(conn.execute(sa.select(inst.c.uuid).where(
                inst.c.deleted == 0)).scalars())
        mappings = api_tables['instance_mappings']
        specs = api_tables['request_specs']
        cells = api_tables['cell_mappings']
        with self.dbs.api_engine.connect() as conn:
            queued = set(conn.execute(sa.select(
                mappings.c.instance_uuid).where(
                    mappings.c.queued_for_delete.is_(sa.true()))).scalars())
            mapped = set(conn.execute(sa.select(
                mappings.c.instance_uuid)).scalars())
            specced = set(conn.execute(sa.select(
                specs.c.instance_uuid)).scalars())
            cell = conn.execute(sa.select(
                cells.c.database_connection).join_from(
                    mappings, cells, mappings.c.cell_id == cells.c.id)
                .distinct()).scalars().all()
        self.assertEqual(deleted, queued)
        self.assertEqual(deleted | live, mapped)
        self.assertEqual(deleted | live, specced)
        self.assertEqual([self.dbs.cell_url], cell)
        for name, stats in self.summary['api'].items():
            self.assertEqual(stats['rows'],
                             self._count(self.dbs.api_engine,
                                         api_tables[name]), name)

    def test_database_numbers_rows_after_the_load(self):
        # The loader gives ids itself; the database's own numbering (a
        # sequence on PostgreSQL) must carry on after them, as Nova's
        # inserts would need.
        tables = self._tables(self.dbs.cell_engine)
        sysmeta = tables['instance_system_metadata']
        with self.dbs.cell_engine.connect() as conn:
            top = conn.execute(sa.select(sa.func.max(sysmeta.c.id))).scalar()
            new_id = conn.execute(sysmeta.insert().values(
                instance_uuid=conn.execute(
                    sa.select(tables['instances'].c.uuid).limit(1)).scalar(),
                key='added', value='by test', deleted=0)
            ).inserted_primary_key[0]
            conn.rollback()
        self.assertGreater(new_id, top)


class TestNovaFixtureSQLite(_NovaFixtureTest, base.TestCase):
    BACKEND = 'sqlite'


class TestNovaFixtureMySQL(_NovaFixtureTest, base.TestCase):
    BACKEND = 'mysql'


class TestNovaFixturePostgreSQL(_NovaFixtureTest, base.TestCase):
    BACKEND = 'postgresql'


class _NovaArchiveTest:
    """Nova's own archive takes the loaded data as Nova would leave it.

    This is what later comparisons against ``nova-manage db
    archive_deleted_rows`` rest on. Not on PostgreSQL: there Nova's
    archive fails on its own enum types (``locked_by``), whatever the data.
    """

    BACKEND = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        nova.ensure_venv_or_skip()

    def test_archive_deleted_rows_takes_every_deleted_instance(self):
        dbs = self.useFixture(nova.NovaDatabases(self.BACKEND))
        fixture = self.useFixture(nova.NovaSchemaFixture(dbs.cell_url,
                                                         dbs.api_url))
        summary = nova_data.load(dbs.cell_engine, dbs.api_engine,
                                 deleted=20, live=5)
        rc, _out = fixture.nova_manage(
            'db', 'archive_deleted_rows', '--until-complete',
            '--max_rows', '100', ok_codes=(0, 1))
        # 1: rows were archived; 0 would mean Nova found nothing to take.
        self.assertEqual(1, rc)
        meta = sa.MetaData()
        meta.reflect(dbs.cell_engine)
        with dbs.cell_engine.connect() as conn:
            for name, stats in summary['cell'].items():
                left = conn.execute(sa.select(sa.func.count()).select_from(
                    meta.tables[name])).scalar()
                archived = conn.execute(sa.select(
                    sa.func.count()).select_from(
                        meta.tables['shadow_' + name])).scalar()
                self.assertEqual(stats['of_live_instances'], left, name)
                self.assertEqual(stats['of_deleted_instances'], archived,
                                 name)
        meta = sa.MetaData()
        meta.reflect(dbs.api_engine, only=nova_data.API_TABLES)
        with dbs.api_engine.connect() as conn:
            for name in nova_data.API_TABLES:
                left = conn.execute(sa.select(sa.func.count()).select_from(
                    meta.tables[name])).scalar()
                self.assertEqual(5, left, name)


class TestNovaArchiveSQLite(_NovaArchiveTest, base.TestCase):
    BACKEND = 'sqlite'


class TestNovaArchiveMySQL(_NovaArchiveTest, base.TestCase):
    BACKEND = 'mysql'


class TestNovaSchemaFailure(base.TestCase):
    """A sync that fails is an error carrying nova-manage's own words."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        nova.ensure_venv_or_skip()

    def test_failed_sync_raises_with_output_tail(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'CRYPTKEEPER_ALLOW_SKIP_NOVA'))
        tmp = self.useFixture(fixtures.TempDir()).path
        # A directory where the database file should be: SQLite cannot
        # open it, so the very first sync fails.
        bad = 'sqlite:///' + tmp
        fixture = nova.NovaSchemaFixture(bad, bad)
        exc = self.assertRaises(nova.NovaFixtureError,
                                nova.start_outside_test, fixture)
        self.assertIn('nova-manage api_db sync exited', str(exc))
        self.assertIn('unable to open database file', str(exc))
        self.assertNotIn('db_sync', fixture.timings)


class TestRequiredFill(base.TestCase):
    """The generic filler on a schema of our own, on SQLite."""

    def test_fills_only_what_must_be_filled(self):
        meta = sa.MetaData()
        table = sa.Table(
            't', meta,
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('name', sa.String(10), nullable=False),
            sa.Column('count', sa.Integer, nullable=False),
            sa.Column('flag', sa.Boolean, nullable=False),
            sa.Column('state', sa.Enum('on', 'off', name='st'),
                      nullable=False),
            sa.Column('at', sa.DateTime, nullable=False),
            sa.Column('note', sa.Text, nullable=True),
            sa.Column('given', sa.String(10), nullable=False),
            sa.Column('dflt', sa.Integer, nullable=False,
                      server_default='3'))
        now = datetime.datetime(2024, 1, 2, 3, 4, 5)
        self.assertEqual(
            {'name': '', 'count': 0, 'flag': False, 'state': 'on',
             'at': now},
            nova_data.required_fill(table, {'given'}, now))

    def test_unknown_type_is_named(self):
        meta = sa.MetaData()
        table = sa.Table('t', meta,
                         sa.Column('id', sa.Integer, primary_key=True),
                         sa.Column('weird', sa.PickleType, nullable=False))
        exc = self.assertRaises(ValueError, nova_data.required_fill, table)
        self.assertIn('t.weird', str(exc))
