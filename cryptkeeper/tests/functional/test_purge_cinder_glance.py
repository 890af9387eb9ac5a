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

"""Purge profiles on the real Cinder and Glance schemas.

The schemas are what ``cinder-manage db sync`` and ``glance-manage
db_sync`` (from PyPI, see local_fixtures/openstack_schemas.py) build on
SQLite, MariaDB and PostgreSQL. Each class loads known rows, runs the
purge library's plan and archive (shadow backend) once, and its tests
check the outcome row by row: exactly the expected rows left the source,
each is in its shadow table unchanged, and every other row is as it was.
"""

import collections
import datetime
import uuid

import fixtures
from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.purge import backends
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import plan as purge_plan
from cryptkeeper.purge import profiles
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.purge import schema
from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import nova_data
from cryptkeeper.tests.local_fixtures import openstack_schemas

OLDER_THAN = 30
OLD = 100       # days: deleted before the cutoff
RECENT = 10     # days: deleted after it
ANCIENT = 400   # days: beyond glance's images retention (180)
SHADOW = 'shadow_'


class Rows:
    """Rows put into a reflected schema, and which of them must go.

    ``add`` fills the NOT NULL columns the test does not care about from
    their reflected types (nova_data.required_fill), so the loader follows
    the schema the service's migrations built.
    """

    def __init__(self, engine, now):
        self.meta = sa.MetaData()
        self.meta.reflect(engine)
        self.engine = engine
        self.now = now
        self.rows = collections.defaultdict(list)
        self.goes = collections.defaultdict(set)
        self._ids = collections.Counter()

    def add(self, table_name, deleted=None, goes=False, /, **values):
        """Add a row; ``deleted`` is its age in days if soft-deleted.

        Positional-only, since column names (``name``) come as keywords.
        Returns the row's primary key value.
        """
        name = table_name
        table = self.meta.tables[name]
        [pk] = table.primary_key.columns
        if pk.name not in values:
            if isinstance(pk.type, sa.Integer):
                self._ids[name] += 1
                values[pk.name] = self._ids[name]
            else:
                values[pk.name] = str(uuid.uuid4())
        if 'deleted' in table.c:
            values['deleted'] = _flag(table.c.deleted, deleted is not None)
        if 'deleted_at' in table.c:
            values['deleted_at'] = (
                None if deleted is None
                else self.now - datetime.timedelta(days=deleted))
        if 'created_at' in table.c:
            values.setdefault('created_at', self.now - datetime.timedelta(
                days=(deleted or 0) + 5))
        values.update(nova_data.required_fill(table, values, self.now))
        self.rows[name].append(values)
        if goes:
            self.goes[name].add((values[pk.name],))
        return values[pk.name]

    def insert(self):
        with self.engine.begin() as conn:
            for table in self.meta.sorted_tables:
                rows = self.rows.get(table.name)
                if not rows:
                    continue
                # One executemany needs the same keys in every row.
                keys = set().union(*rows)
                conn.execute(table.insert(), [
                    {k: row.get(k) for k in keys} for row in rows])


def _flag(column, deleted):
    # Cinder and Glance declare most flags Boolean (TINYINT(1) on MySQL)
    # and a few Integer (cinder's volume_type_projects); 1 and 0 are what
    # their soft delete writes into either.
    if isinstance(column.type, sa.Boolean):
        return deleted
    return 1 if deleted else 0


def snapshot(engine, shadow=False):
    """{table: {pk tuple: canonical row}} of every table of a database.

    With ``shadow``, the shadow tables, keyed by their source's name.
    """
    out = {}
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name.startswith(SHADOW) != shadow or name == 'alembic_version':
                continue
            pk = [c.name for c in table.primary_key.columns]
            rows = {}
            for row in conn.execute(sa.select(table)).mappings():
                rows[tuple(row[c] for c in pk)] = purge_rows.canonical(row)
            out[name[len(SHADOW):] if shadow else name] = rows
    return out


def archive(engine, profile, now, **params):
    """Plan then archive with the shadow backend; (plan, result)."""
    graph = schema.reflect(engine, profiles.get(profile))
    params = purge_params.Params.from_dict(
        dict(params, mode='archive'), now=now)
    planned = purge_plan.plan(engine, profiles.get(profile), params, now=now)
    backend = backends.get('shadow', engine=engine)
    try:
        result = executor.archive(engine, graph, backend, params,
                                  purge_journal.MemoryJournal(), now=now)
    finally:
        backend.close()
    return planned, result


class _ArchiveChecks:
    """Row-by-row checks of one archive run; see the module docstring."""

    def assert_run(self, before, after, shadow, goes, result, planned,
                   shadow_before=None):
        removed = {name: set(rows) - set(after.get(name, {}))
                   for name, rows in before.items()}
        removed = {name: keys for name, keys in removed.items() if keys}
        self.assertEqual({n: sorted(k) for n, k in goes.items() if k},
                         {n: sorted(k) for n, k in removed.items()})
        for name, rows in after.items():
            # Nothing left behind was changed, and nothing appeared.
            self.assertEqual(set(), set(rows) - set(before[name]), name)
            for key, row in rows.items():
                self.assertEqual(before[name][key], row, (name, key))
        for name, keys in removed.items():
            earlier = (shadow_before or {}).get(name, {})
            archived = {k: v for k, v in shadow[name].items()
                        if k not in earlier}
            # Every removed row is in the archive as it was, and nothing
            # else went there.
            self.assertEqual({k: before[name][k] for k in keys}, archived,
                             name)
        counts = {n: t['archived'] for n, t in result['tables'].items()
                  if t['archived']}
        self.assertEqual({n: len(k) for n, k in removed.items()}, counts)
        self.assertEqual(counts, {n: t['deleted']
                                  for n, t in result['tables'].items()
                                  if t['deleted']})
        self.assertEqual(
            counts, {n: t['planned'] for n, t in planned['tables'].items()
                     if t['planned']})


# -- Cinder -------------------------------------------------------------------

class _CinderPurgeTest(openstack_schemas.ServiceSchemaPerClass,
                       _ArchiveChecks):
    """One archive of soft-deleted volumes and snapshots, with children.

    A mixin, so that the loader finds only the concrete backends' classes.
    """

    SERVICE = openstack_schemas.CINDER
    OLD_VOLUMES = 4

    @classmethod
    def load_class_data(cls):
        cls.now = timeutils.utcnow().replace(microsecond=0)
        data = Rows(cls.db.engine, cls.now)
        vtype = data.add('volume_types', name='lvm')
        cls.old_volumes = [cls._volume(data, vtype, OLD, goes=True)
                           for _ in range(cls.OLD_VOLUMES)]
        cls.recent_volumes = [cls._volume(data, vtype, RECENT)
                              for _ in range(2)]
        cls.live_volumes = [cls._volume(data, vtype, None)
                            for _ in range(3)]
        # A deleted snapshot of a live volume goes on its own.
        cls.snapshot_of_live = cls._snapshot(data, cls.live_volumes[0], OLD,
                                             goes=True)
        # A deleted volume with a live snapshot must stay, whatever else
        # of it is soft-deleted.
        cls.held = cls._volume(data, vtype, OLD, goes=False,
                               children_go=True)
        cls.live_snapshot = cls._snapshot(data, cls.held, None)
        data.insert()
        cls.data = data
        cls.before = snapshot(cls.db.engine)
        cls.planned, cls.result = archive(
            cls.db.engine, 'cinder', cls.now, older_than=OLDER_THAN)
        cls.after = snapshot(cls.db.engine)
        cls.shadow = snapshot(cls.db.engine, shadow=True)

    @classmethod
    def _volume(cls, data, vtype, deleted, goes=False, children_go=None):
        children_go = goes if children_go is None else children_go
        volume = data.add('volumes', deleted, goes, volume_type_id=vtype,
                          size=1, status='deleted' if deleted else
                          'available', display_name='v')
        for n in range(2):
            data.add('volume_metadata', deleted, children_go,
                     volume_id=volume, key=f'k{n}', value='v')
        data.add('volume_admin_metadata', deleted, children_go,
                 volume_id=volume, key='readonly', value='False')
        data.add('volume_glance_metadata', deleted, children_go,
                 volume_id=volume, key='image_id', value=str(uuid.uuid4()))
        attachment = data.add('volume_attachment', deleted, children_go,
                              volume_id=volume, attach_status='detached')
        data.add('attachment_specs', deleted, children_go,
                 attachment_id=attachment, key='host', value='compute-1')
        if deleted is not None and children_go:
            # Its snapshots were deleted before it could be.
            cls._snapshot(data, volume, deleted, goes=True)
        return volume

    @staticmethod
    def _snapshot(data, volume, deleted, goes=False):
        snap = data.add('snapshots', deleted, goes, volume_id=volume,
                        volume_size=1, status='deleted' if deleted else
                        'available')
        data.add('snapshot_metadata', deleted, goes, snapshot_id=snap,
                 key='k', value='v')
        data.add('volume_glance_metadata', deleted, goes, snapshot_id=snap,
                 key='image_id', value=str(uuid.uuid4()))
        return snap

    def test_soft_delete_conventions(self):
        graph = schema.reflect(self.db.engine, profiles.get('cinder'))
        flagged = [n for n, t in graph.tables.items() if 'deleted' in t.c]
        self.assertIn('volumes', flagged)
        for name in flagged:
            soft = graph.soft_delete(name)
            self.assertIsNotNone(soft, name)
            self.assertEqual('deleted', soft.column, name)
            self.assertEqual('deleted_at', graph.age_column(name), name)
            # The convention follows the reflected type, table by table:
            # cinder's volume_type_projects keeps an Integer flag.
            col_type = graph.tables[name].c.deleted.type
            kind = ('boolean' if isinstance(col_type, sa.Boolean)
                    else 'integer')
            self.assertEqual(kind, soft.kind, name)
        self.assertEqual(
            'integer', graph.soft_delete('volume_type_projects').kind)
        self.assertNotIn('alembic_version', graph.tables)
        self.assertIn('volumes', graph.roots())

    def test_foreign_keys_carry_the_children(self):
        graph = schema.reflect(self.db.engine, profiles.get('cinder'))
        children = {e.child for e in graph.children('volumes')}
        self.assertLessEqual(
            {'snapshots', 'volume_metadata', 'volume_admin_metadata',
             'volume_glance_metadata', 'volume_attachment'}, children)
        for edge in graph.children('volumes'):
            # Soft-deleted children go with their volume; live ones keep
            # it in place.
            self.assertEqual(schema.TAKE_DELETED, graph.takes(edge))

    def test_archive_moves_exactly_the_old_soft_deleted_rows(self):
        self.assert_run(self.before, self.after, self.shadow,
                        self.data.goes, self.result, self.planned)
        self.assertEqual(len(self.old_volumes),
                         self.result['tables']['volumes']['archived'])

    def test_volume_held_by_live_snapshot_is_reported(self):
        self.assertIn((self.held,), self.after['volumes'])
        self.assertIn((self.live_snapshot,), self.after['snapshots'])
        self.assertEqual('partial', self.result['outcome'])
        self.assertEqual({'volumes': 1}, self.result['left'])
        self.assertIn('snapshots', self.result['reason'])
        self.assertEqual(1, self.planned['tables']['volumes']
                         ['fk_conflicts'])

    def test_recent_and_live_rows_stay(self):
        for volume in self.recent_volumes + self.live_volumes:
            self.assertIn((volume,), self.after['volumes'])
        self.assertNotIn((self.snapshot_of_live,), self.after['snapshots'])
        self.assertIn((self.snapshot_of_live,), self.shadow['snapshots'])


class CinderSQLiteTest(_CinderPurgeTest, base.TestCase):
    BACKEND = 'sqlite'


class CinderMySQLTest(_CinderPurgeTest, base.TestCase):
    BACKEND = 'mysql'


class CinderPostgreSQLTest(_CinderPurgeTest, base.TestCase):
    BACKEND = 'postgresql'


# -- Glance -------------------------------------------------------------------

class _GlancePurgeTest(openstack_schemas.ServiceSchemaPerClass,
                       _ArchiveChecks):
    """Images only when named, and then only past their retention.

    First an archive naming ``images`` (older_than 30 days, but images
    keep their 180 days), then one naming nothing.
    """

    SERVICE = openstack_schemas.GLANCE

    @classmethod
    def load_class_data(cls):
        cls.now = timeutils.utcnow().replace(microsecond=0)
        data = Rows(cls.db.engine, cls.now)
        # Rows run 2 must take, filled as they are made.
        cls.run2 = collections.defaultdict(set)
        # Run 1 (tables=['images']) takes these with their children.
        cls.ancient = [cls._image(data, ANCIENT, 1) for _ in range(3)]
        # Past older_than but inside the images retention: the images
        # stay in both runs, their children go in run 2.
        cls.recent = [cls._image(data, OLD, 2) for _ in range(2)]
        cls.live = [cls._image(data, None, None) for _ in range(2)]
        # A property removed from a live image: run 2.
        cls.removed_property = data.add(
            'image_properties', OLD, image_id=cls.live[0], name='gone',
            value='x')
        cls.run2['image_properties'].add((cls.removed_property,))
        cls.tasks = []
        for deleted in (OLD, OLD, None):
            task = data.add('tasks', deleted, type='import',
                            status='success', owner='p')
            data.add('task_info', task_id=task, input='{}', result='{}')
            cls.tasks.append(task)
            if deleted:
                cls.run2['tasks'].add((task,))
                cls.run2['task_info'].add((task,))
        data.insert()
        cls.data = data
        engine = cls.db.engine
        cls.before = snapshot(engine)
        cls.planned1, cls.result1 = archive(
            engine, 'glance', cls.now, older_than=OLDER_THAN,
            tables=['images'])
        cls.after1 = snapshot(engine)
        cls.shadow1 = snapshot(engine, shadow=True)
        cls.planned2, cls.result2 = archive(
            engine, 'glance', cls.now, older_than=OLDER_THAN)
        cls.after2 = snapshot(engine)
        cls.shadow2 = snapshot(engine, shadow=True)

    @classmethod
    def _image(cls, data, deleted, run):
        image = data.add('images', deleted, run == 1, status='deleted'
                         if deleted else 'active', visibility='shared')
        children = [
            ('image_properties', {'name': 'os_distro', 'value': 'debian'}),
            ('image_members', {'member': 'p2', 'can_share': False,
                               'status': 'accepted'}),
            ('image_locations', {'value': 'file:///var/lib/glance/x',
                                 'meta_data': '{}', 'status': 'active'}),
            ('image_tags', {'value': 'tag'}),
        ]
        for name, values in children:
            key = data.add(name, deleted, run == 1, image_id=image, **values)
            if run == 2:
                cls.run2[name].add((key,))
        return image

    def test_images_are_opt_in(self):
        graph = schema.reflect(self.db.engine, profiles.get('glance'))
        soft = graph.soft_delete('images')
        self.assertEqual('deleted', soft.column)
        self.assertEqual('deleted_at', graph.age_column('images'))
        self.assertNotIn('images', graph.roots())
        self.assertEqual(['images'], graph.roots(['images']))
        self.assertEqual(180, graph.profile.opt_in['images'])
        # task_info has no flag of its own and belongs to its task.
        self.assertIsNone(graph.soft_delete('task_info'))
        [edge] = [e for e in graph.children('tasks')
                  if e.child == 'task_info']
        self.assertEqual(schema.TAKE_ALL, graph.takes(edge))

    def test_named_images_go_only_past_their_retention(self):
        self.assert_run(self.before, self.after1, self.shadow1,
                        self.data.goes, self.result1, self.planned1)
        for image in self.recent + self.live:
            self.assertIn((image,), self.after1['images'])
        self.assertEqual('succeeded', self.result1['outcome'])

    def test_unnamed_run_leaves_images_alone(self):
        self.assert_run(self.after1, self.after2, self.shadow2, self.run2,
                        self.result2, self.planned2,
                        shadow_before=self.shadow1)
        self.assertEqual(self.after1['images'], self.after2['images'])
        self.assertNotIn('images', self.result2['tables'])
        self.assertEqual('succeeded', self.result2['outcome'])

    def test_live_rows_stay(self):
        for image in self.live:
            self.assertIn((image,), self.after2['images'])
        live_task = self.tasks[-1]
        self.assertEqual(self.before['tasks'][(live_task,)],
                         self.after2['tasks'][(live_task,)])
        self.assertEqual(self.before['task_info'][(live_task,)],
                         self.after2['task_info'][(live_task,)])


class GlanceSQLiteTest(_GlancePurgeTest, base.TestCase):
    BACKEND = 'sqlite'


class GlanceMySQLTest(_GlancePurgeTest, base.TestCase):
    BACKEND = 'mysql'


class GlancePostgreSQLTest(_GlancePurgeTest, base.TestCase):
    BACKEND = 'postgresql'


class TestServiceSchemaFailure(base.TestCase):
    """A sync that fails is an error carrying the manage tool's words."""

    def _check(self, service):
        openstack_schemas.ensure_venv_or_skip(service)
        self.useFixture(fixtures.EnvironmentVariable(service.skip_env))
        tmp = self.useFixture(fixtures.TempDir()).path
        # A directory where the database file should be: SQLite cannot
        # open it, so the sync fails.
        fixture = openstack_schemas.ServiceSchemaFixture(
            service, 'sqlite:///' + tmp)
        exc = self.assertRaises(openstack_schemas.SchemaFixtureError,
                                openstack_schemas.start_outside_test,
                                fixture)
        self.assertIn('%s %s exited' % (service.manage,
                                        ' '.join(service.sync)), str(exc))
        self.assertIn('unable to open database file', str(exc))
        self.assertNotIn('sync', fixture.timings)

    def test_cinder(self):
        self._check(openstack_schemas.CINDER)

    def test_glance(self):
        self._check(openstack_schemas.GLANCE)
