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

"""The purge graph reflected from real SQLite files with foreign keys.

The small nova-like schema built here is shared by the plan, executor and
shadow tests: its expected counts are written out by hand.
"""

import datetime
import os

import fixtures
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.purge import errors
from cryptkeeper.purge import profiles
from cryptkeeper.purge import schema
from cryptkeeper.tests import base

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0)
OLD = NOW - datetime.timedelta(days=100)
YOUNG = NOW - datetime.timedelta(days=5)
PROJECT = 'p-one'
OTHER_PROJECT = 'p-two'

# What an archive of everything older than 30 days takes from the schema
# of build(), by table (see build() for why).
EXPECTED_30D = {
    'instances': 4,
    'instance_system_metadata': 4 * 3 + 2 * 3 + 1,
    'instance_actions': 4 * 2,
    'instance_actions_events': 4 * 2,
    'instance_extra': 4,
    'fixed_ips': 1,
}
# The two old deleted instances that live rows keep in place.
BLOCKED_30D = {'instances': 2}
BLOCKED_BY_30D = {'share_mapping': 1, 'fixed_ips': 1}


def sqlite_engine(path, foreign_keys=True):
    """An engine on a SQLite file that enforces foreign keys."""
    engine = sa.create_engine('sqlite:///' + path)
    if foreign_keys:
        @event.listens_for(engine, 'connect')
        def _fk(dbapi_conn, record):
            dbapi_conn.execute('PRAGMA foreign_keys = ON')
    return engine


def define_heat(meta, resource_data=True):
    """Heat's stack and its resources, which own rows without soft delete."""
    sa.Table('stack', meta,
             sa.Column('id', sa.String(36), primary_key=True),
             sa.Column('deleted_at', sa.DateTime))
    sa.Table('resource', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('stack_id', sa.String(36),
                       sa.ForeignKey('stack.id')))
    if resource_data:
        sa.Table('resource_data', meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('resource_id', sa.Integer,
                           sa.ForeignKey('resource.id')))


def define_cycle(meta):
    """Two soft-deleted tables, a and b, that reference each other."""
    sa.Table('a', meta, sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('b_id', sa.Integer, sa.ForeignKey('b.id')),
             sa.Column('deleted', sa.Integer))
    sa.Table('b', meta, sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('a_id', sa.Integer, sa.ForeignKey('a.id')),
             sa.Column('deleted', sa.Integer))


def define(meta, shadow_instances=True):
    """A nova-like schema: instances and what hangs from them."""
    def common():
        return [sa.Column('created_at', sa.DateTime),
                sa.Column('deleted_at', sa.DateTime),
                sa.Column('deleted', sa.Integer, default=0)]

    def instance_cols():
        return [sa.Column('id', sa.Integer, primary_key=True),
                sa.Column('uuid', sa.String(36), nullable=False,
                          unique=True),
                sa.Column('project_id', sa.String(36)),
                sa.Column('locked_by', sa.Enum('owner', 'admin',
                                               name='instances0locked_by')),
                *common()]

    sa.Table('instances', meta, *instance_cols())
    sa.Table('instance_system_metadata', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('instance_uuid', sa.String(36),
                       sa.ForeignKey('instances.uuid'), nullable=False),
             sa.Column('key', sa.String(255)),
             sa.Column('value', sa.String(255)), *common())
    sa.Table('instance_actions', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('instance_uuid', sa.String(36),
                       sa.ForeignKey('instances.uuid')),
             sa.Column('action', sa.String(255)), *common())
    sa.Table('instance_actions_events', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('action_id', sa.Integer,
                       sa.ForeignKey('instance_actions.id')),
             sa.Column('event', sa.String(255)), *common())
    sa.Table('instance_extra', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('instance_uuid', sa.String(36),
                       sa.ForeignKey('instances.uuid'), nullable=False),
             sa.Column('flavor', sa.Text), *common())
    sa.Table('fixed_ips', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('address', sa.String(39)),
             sa.Column('instance_uuid', sa.String(36),
                       sa.ForeignKey('instances.uuid')), *common())
    # No soft delete: a row here keeps its instance in place.
    sa.Table('share_mapping', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('instance_uuid', sa.String(36),
                       sa.ForeignKey('instances.uuid'), nullable=False),
             sa.Column('share_id', sa.String(36)))
    sa.Table('task_log', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('task_name', sa.String(255)),
             sa.Column('updated_at', sa.DateTime), *common())
    sa.Table('alembic_version', meta,
             sa.Column('version_num', sa.String(32), primary_key=True))
    if shadow_instances:
        # As nova's db sync makes them: same columns, no keys to others.
        sa.Table('shadow_instances', meta, *instance_cols())


class Loader:
    """Inserts rows with explicit ids, remembering them per table."""

    def __init__(self, conn, meta):
        self.conn = conn
        self.meta = meta
        self.next = {}

    def add(self, name, **values):
        table = self.meta.tables[name]
        rid = self.next.get(name, 1)
        self.next[name] = rid + 1
        values.setdefault('id', rid)
        if 'deleted' in table.c:
            values.setdefault('deleted', 0)
        self.conn.execute(table.insert().values(**values))
        return values['id']

    def instance(self, n, deleted_at=None, deleted=True, project=PROJECT,
                 sysmeta=3, actions=2, extra=True, locked_by=None,
                 children_deleted=True):
        """An instance and its children, deleted the way nova does."""
        uuid = 'inst-%04d' % n
        iid = self.add('instances', uuid=uuid, project_id=project,
                       locked_by=locked_by, created_at=OLD,
                       deleted_at=deleted_at if deleted else None)
        if deleted:
            self.conn.execute(self.meta.tables['instances'].update().where(
                self.meta.tables['instances'].c.id == iid).values(
                    deleted=iid))
        for k in range(sysmeta):
            sid = self.next.get('instance_system_metadata', 1)
            soft = deleted and children_deleted
            self.add('instance_system_metadata', instance_uuid=uuid,
                     key='k%d' % k, value='v%d' % k,
                     deleted=sid if soft else 0,
                     deleted_at=deleted_at if soft else None)
        for _ in range(actions):
            aid = self.add('instance_actions', instance_uuid=uuid,
                           action='create', created_at=OLD)
            # Nova never soft-deletes actions nor their events.
            self.add('instance_actions_events', action_id=aid,
                     event='build', created_at=OLD)
        if extra:
            # Left live, as older nova releases did (bug #1622545).
            self.add('instance_extra', instance_uuid=uuid, flavor='{}')
        return uuid


def build(engine, shadow_instances=True):
    """Create and fill the schema; EXPECTED_30D says what goes at 30 days.

    Instances 1-4: deleted 100 days ago, each with 3 soft-deleted system
    metadata rows, 2 live actions with a live event each, a live extra
    row; instance 4 also has a soft-deleted fixed ip (goes along).
    Instance 5: the same, but a live fixed ip still references it.
    Instance 6: the same, but a share mapping (no soft delete) does.
    Instances 7-8: deleted 5 days ago. Instance 9: deleted with no
    deleted_at. Instances 10-12: live; instance 10 has one soft-deleted
    system metadata row of its own, 100 days old, and instances 11-12
    belong to another project. task_log: one old, one young row.
    """
    meta = sa.MetaData()
    define(meta, shadow_instances=shadow_instances)
    meta.create_all(engine)
    with engine.begin() as conn:
        load = Loader(conn, meta)
        for n in range(1, 7):
            uuid = load.instance(n, deleted_at=OLD, locked_by='admin')
            if n == 4:
                load.add('fixed_ips', address='10.0.0.4',
                         instance_uuid=uuid, deleted=1, deleted_at=OLD)
            if n == 5:
                load.add('fixed_ips', address='10.0.0.5',
                         instance_uuid=uuid)
            if n == 6:
                load.add('share_mapping', instance_uuid=uuid,
                         share_id='share-6')
        for n in (7, 8):
            load.instance(n, deleted_at=YOUNG)
        load.instance(9, deleted_at=None)
        live = load.instance(10, deleted=False)
        load.add('instance_system_metadata', instance_uuid=live,
                 key='gone', value='x', deleted=999, deleted_at=OLD)
        for n in (11, 12):
            load.instance(n, deleted=False, project=OTHER_PROJECT)
        load.add('task_log', task_name='old', updated_at=OLD)
        load.add('task_log', task_name='young', updated_at=YOUNG)
        conn.execute(meta.tables['alembic_version'].insert().values(
            version_num='abc'))
    return meta


def add_orphan(engine):
    """A system metadata row whose instance is gone (checks were off)."""
    with engine.connect() as conn:
        conn.exec_driver_sql('PRAGMA foreign_keys = OFF')
        conn.exec_driver_sql(
            "INSERT INTO instance_system_metadata (id, instance_uuid, key, "
            "deleted) VALUES (5000, 'inst-gone', 'k', 0)")
        conn.commit()


_TEMPLATE = []


def _template(tmp):
    """The bytes of a SQLite file build() filled, built once per process.

    ``tmp`` is a directory to build it in the first time.
    """
    if not _TEMPLATE:
        path = os.path.join(tmp, 'template.sqlite')
        engine = sqlite_engine(path)
        try:
            build(engine)
        finally:
            engine.dispose()
        with open(path, 'rb') as f:
            _TEMPLATE.append(f.read())
        os.unlink(path)
    return _TEMPLATE[0]


class SchemaTestCase(base.TestCase):
    """A fresh SQLite file with the schema and rows of build().

    build() runs once per process; each test gets its own copy of the
    file, which it may change at will.
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.tmp, 'nova.sqlite')
        with open(self.path, 'wb') as f:
            f.write(_template(self.tmp))
        self.engine = sqlite_engine(self.path)
        self.addCleanup(self.engine.dispose)
        self.meta = sa.MetaData()
        define(self.meta)

    def rows(self, name, engine=None):
        with (engine or self.engine).connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.text('SELECT * FROM "%s" ORDER BY 1' % name)).mappings()]


class TestReflect(SchemaTestCase):

    def setUp(self):
        super().setUp()
        self.graph = schema.reflect(self.engine, 'nova')

    def test_excluded_tables_are_not_reflected(self):
        self.assertNotIn('alembic_version', self.graph.tables)
        self.assertNotIn('shadow_instances', self.graph.tables)
        self.assertIn('instances', self.graph.tables)

    def test_foreign_keys_and_profile_relations(self):
        edges = {(e.parent, e.parent_cols, e.child, e.child_cols): e.source
                 for e in self.graph.edges}
        # Declared by the nova profile and also a foreign key: ownership.
        self.assertEqual('profile', edges[('instances', ('uuid',),
                                           'instance_actions',
                                           ('instance_uuid',))])
        self.assertEqual('profile', edges[('instance_actions', ('id',),
                                           'instance_actions_events',
                                           ('action_id',))])
        # Foreign keys only.
        self.assertEqual('fk', edges[('instances', ('uuid',), 'fixed_ips',
                                      ('instance_uuid',))])
        self.assertEqual('fk', edges[('instances', ('uuid',),
                                      'share_mapping', ('instance_uuid',))])
        # Nova relations whose tables this schema lacks are not used.
        self.assertNotIn('block_device_mapping',
                         {e.child for e in self.graph.edges})
        self.assertNotIn('instance_id_mappings',
                         {e.child for e in self.graph.edges})

    def test_how_children_are_taken(self):
        takes = {e.child: self.graph.takes(e)
                 for e in self.graph.children('instances')}
        self.assertEqual(schema.TAKE_ALL, takes['instance_actions'])
        self.assertEqual(schema.TAKE_ALL, takes['instance_extra'])
        self.assertEqual(schema.TAKE_DELETED, takes['fixed_ips'])
        self.assertEqual(schema.TAKE_NONE, takes['share_mapping'])

    def test_generic_profile_has_no_ownership(self):
        graph = schema.reflect(self.engine, 'generic')
        self.assertEqual({'fk'}, {e.source for e in graph.edges})
        self.assertIn('task_log', graph.roots())

    def test_soft_delete_and_ages(self):
        graph = self.graph
        self.assertEqual('integer', graph.soft_delete('instances').kind)
        self.assertEqual('deleted_at', graph.age_column('instances'))
        self.assertEqual('created_at', graph.age_column('instance_actions'))
        self.assertEqual('created_at',
                         graph.age_column('instance_actions_events'))
        self.assertEqual('updated_at', graph.age_column('task_log'))
        self.assertEqual('age', graph.soft_delete('task_log').kind)
        self.assertIsNone(graph.soft_delete('share_mapping'))
        self.assertEqual(['id'], graph.pk('instances'))

    def test_roots_parents_first_and_opt_in(self):
        roots = self.graph.roots()
        self.assertNotIn('task_log', roots)
        self.assertNotIn('share_mapping', roots)
        self.assertLess(roots.index('instances'),
                        roots.index('instance_system_metadata'))
        self.assertLess(roots.index('instance_actions'),
                        roots.index('instance_actions_events'))
        self.assertEqual(['task_log'], self.graph.roots(['task_log']))

    def test_unknown_excluded_and_unflagged_tables(self):
        exc = self.assertRaises(errors.UnknownTable, self.graph.roots,
                                ['instancez'])
        self.assertIn('instancez', exc.message)
        exc = self.assertRaises(errors.InvalidParams, self.graph.roots,
                                ['shadow_instances'])
        self.assertIn('never purged', exc.message)
        exc = self.assertRaises(errors.InvalidParams, self.graph.roots,
                                ['share_mapping'])
        self.assertIn('no soft-delete column', exc.message)

    def test_delete_order_children_first(self):
        order = self.graph.delete_order(['instances', 'instance_actions',
                                         'instance_actions_events',
                                         'instance_system_metadata'])
        self.assertLess(order.index('instance_actions_events'),
                        order.index('instance_actions'))
        self.assertLess(order.index('instance_actions'),
                        order.index('instances'))
        self.assertEqual(list(reversed(order)), self.graph.parents_order(
            order))

    def test_reachable(self):
        self.assertEqual(
            {'instances', 'instance_system_metadata', 'instance_actions',
             'instance_actions_events', 'instance_extra', 'fixed_ips'},
            self.graph.reachable(['instances']))

    def test_root_clause(self):
        graph = self.graph
        table = graph.tables['instances']

        def count(cutoff, project=None):
            where = graph.root_clause('instances', table, cutoff, NOW,
                                      project)
            if where is None:
                return None
            with self.engine.connect() as conn:
                return conn.execute(sa.select(sa.func.count()).select_from(
                    table).where(where)).scalar()

        self.assertEqual(6, count(NOW - datetime.timedelta(days=30)))
        # Everything deleted so far, including the row with no age.
        self.assertEqual(9, count(NOW))
        self.assertEqual(9, count(NOW, PROJECT))
        self.assertEqual(0, count(NOW, OTHER_PROJECT))
        # No project_id column: no row can be chosen in a project scope.
        self.assertIsNone(graph.root_clause(
            'instance_system_metadata',
            graph.tables['instance_system_metadata'], NOW, NOW, PROJECT))

    def test_opt_in_cutoff_keeps_its_retention(self):
        cutoff = self.graph.cutoff_for('task_log', NOW, NOW)
        self.assertEqual(NOW - datetime.timedelta(days=90), cutoff)
        self.assertEqual(NOW, self.graph.cutoff_for('instances', NOW, NOW))

    def test_is_deleted(self):
        self.assertTrue(self.graph.is_deleted('instances', {'deleted': 7}))
        self.assertFalse(self.graph.is_deleted('instances', {'deleted': 0}))
        self.assertFalse(self.graph.is_deleted('share_mapping', {}))


class TestCycles(base.TestCase):

    def setUp(self):
        super().setUp()
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'cycle.sqlite')
        self.engine = sqlite_engine(path, foreign_keys=False)
        self.addCleanup(self.engine.dispose)
        meta = sa.MetaData()
        define_cycle(meta)
        sa.Table('tree', meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('parent_id', sa.Integer,
                           sa.ForeignKey('tree.id')),
                 sa.Column('deleted', sa.Integer))
        meta.create_all(self.engine)
        self.graph = schema.reflect(self.engine, 'generic')

    def test_two_tables_in_a_cycle_are_refused_by_name(self):
        exc = self.assertRaises(errors.PurgeError, self.graph.delete_order,
                                ['a', 'b'])
        self.assertIn('a, b', exc.message)
        self.assertIn('cycle', exc.message)

    def test_a_self_reference_is_fine(self):
        self.assertEqual(['tree'], self.graph.delete_order(['tree']))
        self.assertEqual(['tree'], self.graph.roots(['tree']))

    def test_roots_still_ordered(self):
        self.assertEqual(['a', 'b', 'tree'], sorted(self.graph.roots()))


class TestProfilesOnReflection(base.TestCase):

    def test_profile_by_object_or_name(self):
        profile = profiles.get('nova')
        self.assertIs(profile, profiles.get(profile))
