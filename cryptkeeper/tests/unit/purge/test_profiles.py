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

"""Profiles: the schema facts of each service that keys do not give."""

import os

import fixtures
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from cryptkeeper.purge import errors
from cryptkeeper.purge import profiles
from cryptkeeper.purge import schema
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.purge import test_schema as fixture


def cols(**types):
    return [{'name': name, 'type': t} for name, t in types.items()]


NOVA_COLS = cols(id=sa.Integer(), deleted=sa.Integer(),
                 deleted_at=sa.DateTime(), created_at=sa.DateTime(),
                 updated_at=sa.DateTime())
CINDER_COLS = cols(id=sa.String(36), deleted=sa.Boolean(),
                   deleted_at=sa.DateTime())
HEAT_COLS = cols(id=sa.String(36), deleted_at=sa.DateTime())


class TestProfiles(base.TestCase):

    def test_every_profile_by_name(self):
        for name in ('nova', 'nova_api', 'cinder', 'glance', 'heat',
                     'generic'):
            self.assertEqual(name, profiles.get(name).name)
        self.assertEqual(profiles.NAMES, ('nova', 'nova_api', 'cinder',
                                          'glance', 'heat', 'generic'))

    def test_unknown_profile(self):
        exc = self.assertRaises(errors.PurgeError, profiles.get, 'swift')
        self.assertIn('swift', exc.message)
        self.assertIn('nova', exc.message)

    def test_excluded_always(self):
        for name in profiles.NAMES:
            profile = profiles.get(name)
            for table in ('shadow_instances', 'migrate_version',
                          'alembic_version'):
                self.assertTrue(profile.is_excluded(table), (name, table))
                self.assertIsNone(profile.soft_delete(table, NOVA_COLS))
            self.assertFalse(profile.is_excluded('instances'))

    def test_nova_integer_flag_and_ages(self):
        nova = profiles.get('nova')
        soft = nova.soft_delete('instances', NOVA_COLS)
        self.assertEqual(('integer', 'deleted', 'deleted_at'),
                         (soft.kind, soft.column, soft.age_column))
        for table in ('instance_actions', 'instance_actions_events'):
            self.assertEqual('created_at',
                             nova.age_column(table, NOVA_COLS))
        self.assertEqual('updated_at', nova.age_column('task_log',
                                                       NOVA_COLS))
        # task_log is chosen by age alone, and only when named.
        soft = nova.soft_delete('task_log', NOVA_COLS)
        self.assertEqual(('age', 'updated_at'), (soft.kind, soft.column))
        self.assertIn('task_log', nova.opt_in)

    def test_age_override_needs_the_column(self):
        nova = profiles.get('nova')
        self.assertEqual('deleted_at', nova.age_column(
            'instance_actions', cols(deleted_at=sa.DateTime())))
        self.assertIsNone(nova.age_column('x', cols(id=sa.Integer())))

    def test_nova_dependents_and_followups(self):
        nova = profiles.get('nova')
        owned = {(e.parent, e.child, e.child_cols) for e in nova.dependents}
        for child in ('instance_actions', 'instance_extra',
                      'instance_info_caches', 'block_device_mapping',
                      'instance_faults', 'instance_system_metadata',
                      'instance_metadata', 'migrations'):
            self.assertIn(('instances', child, ('instance_uuid',)), owned)
        self.assertIn(('instance_actions', 'instance_actions_events',
                       ('action_id',)), owned)
        self.assertIn(('instances', 'instance_id_mappings', ('uuid',)),
                      owned)
        # A PCI device belongs to its host, not to an instance.
        self.assertNotIn('pci_devices', {c for _, c, _ in owned})
        self.assertTrue(all(e.source == 'profile' and e.owned
                            for e in nova.dependents))
        follow, = nova.followups
        self.assertEqual(('instances', 'uuid', 'nova_api'),
                         (follow.parent_table, follow.parent_column,
                          follow.target_profile))
        self.assertEqual({'instance_mappings', 'request_specs',
                          'instance_group_member'},
                         {t for t, _ in follow.tables})

    def test_nova_api_has_no_soft_delete(self):
        api = profiles.get('nova_api')
        self.assertIsNone(api.soft_delete('instance_mappings', cols(
            id=sa.Integer(), created_at=sa.DateTime())))
        self.assertEqual((), tuple(api.followups))

    def test_cinder_boolean_flag(self):
        cinder = profiles.get('cinder')
        soft = cinder.soft_delete('volumes', CINDER_COLS)
        self.assertEqual(('boolean', 'deleted', 'deleted_at'),
                         (soft.kind, soft.column, soft.age_column))
        # MySQL reflects BOOLEAN as TINYINT(1): deleted != 0 is the same.
        soft = cinder.soft_delete('volumes', cols(
            deleted=mysql.TINYINT(1), deleted_at=sa.DateTime()))
        self.assertEqual('integer', soft.kind)

    def test_glance_images_opt_in(self):
        glance = profiles.get('glance')
        self.assertEqual({'images': 180}, glance.opt_in)
        self.assertIn('OSSN-0075', type(glance).__doc__)
        self.assertEqual({('tasks', 'task_info')},
                         {(e.parent, e.child) for e in glance.dependents})

    def test_heat_deleted_at_only(self):
        heat = profiles.get('heat')
        soft = heat.soft_delete('stack', HEAT_COLS)
        self.assertEqual(('deleted_at', 'deleted_at', 'deleted_at'),
                         (soft.kind, soft.column, soft.age_column))
        self.assertIn(('stack', 'resource'),
                      {(e.parent, e.child) for e in heat.dependents})
        self.assertIn(('resource', 'resource_data'),
                      {(e.parent, e.child) for e in heat.dependents})

    def test_flag_of_unknown_type_is_not_trusted(self):
        generic = profiles.get('generic')
        self.assertIsNone(generic.soft_delete('t', cols(
            deleted=sa.String(3), deleted_at=sa.DateTime())))

    def test_columns_as_reflected_sa_columns(self):
        table = sa.Table('volumes', sa.MetaData(),
                         sa.Column('id', sa.Integer, primary_key=True),
                         sa.Column('deleted', sa.Boolean),
                         sa.Column('deleted_at', sa.DateTime))
        soft = profiles.get('cinder').soft_delete('volumes', table.columns)
        self.assertEqual('boolean', soft.kind)


class TestProfilesOnRealSchemas(base.TestCase):
    """Relations are used only where reflection finds their columns."""

    def _engine(self, build):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'db.sqlite')
        engine = sa.create_engine('sqlite:///' + path)
        self.addCleanup(engine.dispose)
        meta = sa.MetaData()
        build(meta)
        meta.create_all(engine)
        return engine

    def test_heat_stack_owns_rows_without_soft_delete(self):
        def build(meta):
            fixture.define_heat(meta)
            # No stack_id column in this release: the relation is unused.
            sa.Table('stack_tag', meta,
                     sa.Column('id', sa.Integer, primary_key=True))

        graph = schema.reflect(self._engine(build), 'heat')
        self.assertEqual(['stack'], graph.roots())
        takes = {(e.parent, e.child): graph.takes(e) for e in graph.edges}
        self.assertEqual({('stack', 'resource'): schema.TAKE_ALL,
                          ('resource', 'resource_data'): schema.TAKE_ALL},
                         takes)

    def test_generic_leaves_unflagged_children_blocking(self):
        def build(meta):
            fixture.define_heat(meta, resource_data=False)

        graph = schema.reflect(self._engine(build), 'generic')
        edge, = graph.edges
        self.assertEqual(schema.TAKE_NONE, graph.takes(edge))

    def test_glance_images_only_when_named(self):
        def build(meta):
            sa.Table('images', meta,
                     sa.Column('id', sa.String(36), primary_key=True),
                     sa.Column('deleted', sa.Boolean),
                     sa.Column('deleted_at', sa.DateTime))
            sa.Table('image_properties', meta,
                     sa.Column('id', sa.Integer, primary_key=True),
                     sa.Column('image_id', sa.String(36),
                               sa.ForeignKey('images.id')),
                     sa.Column('deleted', sa.Boolean),
                     sa.Column('deleted_at', sa.DateTime))

        graph = schema.reflect(self._engine(build), 'glance')
        self.assertEqual(['image_properties'], graph.roots())
        self.assertEqual(['images'], graph.roots(['images']))
