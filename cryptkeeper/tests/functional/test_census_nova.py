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

"""The census job's library on real Nova cell and API databases."""

from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.purge import census
from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import nova
from cryptkeeper.tests.local_fixtures import nova_data

# A day either side of each bucket bound, and one well inside each bucket.
AGES = (1, 29, 31, 60, 89, 91, 200, 364, 366, 1000)
DELETED = 3 * len(AGES)
LIVE = 7
# Older Nova releases left some children live under a deleted instance
# (bug #1622545); the census must count each table on its own.
SOFT_DELETED_CHILDREN = (nova_data.NOVA_SOFT_DELETED_CHILDREN -
                         {'instance_extra', 'instance_info_caches'})
BUCKETS = ('lt_30d', '30_90d', '90_365d', 'gt_365d')
# Rows copied into a shadow table before the census, as an archive left
# them: the census reports them as archived, not as soft-deleted.
ARCHIVED_TABLE = 'instance_system_metadata'
ARCHIVED = 7


def expected_bucket(days):
    """The census bucket of a row deleted ``days`` days ago."""
    if days < 30:
        return 'lt_30d'
    if days < 90:
        return '30_90d'
    if days < 365:
        return '90_365d'
    return 'gt_365d'


def by_name(result):
    return {entry['name']: entry for entry in result['tables']}


class _NovaCensusTest(nova.NovaSchemaPerClass):
    """Census before and after loading known data into one Nova schema.

    A mixin, so that the loader finds only the concrete backends' classes.
    """

    @classmethod
    def load_class_data(cls):
        now = timeutils.utcnow().replace(microsecond=0)
        # What Nova's migrations put in the tables themselves (such as
        # alembic_version), counted before our rows go in.
        cls.cell_before, cls.api_before = cls._census(now)
        cls.summary = nova_data.load(
            cls.dbs.cell_engine, cls.dbs.api_engine, deleted=DELETED,
            live=LIVE, ages=AGES, now=now,
            soft_deleted_children=SOFT_DELETED_CHILDREN)
        cls._copy_to_shadow(ARCHIVED_TABLE, ARCHIVED)
        cls.cell, cls.api = cls._census(now)

    @classmethod
    def _copy_to_shadow(cls, name, count):
        meta = sa.MetaData()
        engine = cls.dbs.cell_engine
        source = sa.Table(name, meta, autoload_with=engine)
        shadow = sa.Table('shadow_' + name, meta, autoload_with=engine)
        cols = [c.name for c in source.columns]
        rows = (sa.select(*[source.c[c] for c in cols])
                .where(source.c.deleted != 0)
                .order_by(source.c.id).limit(count))
        with engine.begin() as conn:
            conn.execute(shadow.insert().from_select(cols, rows))

    @classmethod
    def _census(cls, now):
        # Engines of its own, as a census job has.
        results = []
        for url, target, profile in ((cls.dbs.cell_url, 'nova', 'nova'),
                                     (cls.dbs.api_url, 'nova_api',
                                      'nova_api')):
            engine = sa.create_engine(url)
            try:
                results.append(census.census(engine, target=target,
                                             profile=profile, now=now))
            finally:
                engine.dispose()
        return results

    def _expected_buckets(self, stats):
        buckets = dict.fromkeys(census.BUCKET_NAMES, 0)
        for days, rows in stats['soft_deleted_by_age'].items():
            buckets[expected_bucket(days)] += rows
        return buckets

    def test_every_bucket_is_exercised(self):
        # Otherwise a census that mixed two buckets up could still pass.
        buckets = self._expected_buckets(
            self.summary['cell']['instances'])
        for name in BUCKETS:
            self.assertGreater(buckets[name], 0, name)

    def test_soft_deleted_rows_and_ages_per_table(self):
        tables = by_name(self.cell)
        for name, stats in self.summary['cell'].items():
            entry = tables[name]
            self.assertEqual('deleted', entry['soft_delete_column'], name)
            self.assertEqual(stats['soft_deleted'], entry['soft_deleted'],
                             name)
            self.assertEqual(self._expected_buckets(stats),
                             entry['age_buckets'], name)

    def test_known_numbers(self):
        # The same facts as above, spelt out, so that a loader and census
        # that agree on a mistake cannot both pass.
        tables = by_name(self.cell)
        per_bucket = {'lt_30d': 6, '30_90d': 9, '90_365d': 9,
                      'gt_365d': 6}
        self.assertEqual(DELETED, tables['instances']['soft_deleted'])
        self.assertEqual(dict(per_bucket, unknown_age=0),
                         tables['instances']['age_buckets'])
        self.assertEqual(
            {k: 5 * v for k, v in dict(per_bucket, unknown_age=0).items()},
            tables['instance_system_metadata']['age_buckets'])
        for name in ('instance_extra', 'instance_info_caches',
                     'instance_actions', 'instance_actions_events'):
            self.assertEqual(0, tables[name]['soft_deleted'], name)
            self.assertEqual(0, sum(tables[name]['age_buckets'].values()),
                             name)

    def test_baseline_has_nothing_deleted(self):
        self.assertEqual(0, self.cell_before['totals']['soft_deleted'])
        self.assertEqual(set(by_name(self.cell_before)),
                         set(by_name(self.cell)))
        # alembic_version at least; the loader's tables empty.
        self.assertGreater(self.cell_before['totals']['rows'], 0)
        before = by_name(self.cell_before)
        for name in nova_data.CELL_TABLES:
            self.assertEqual(0, before[name]['rows'], name)

    def test_row_counts_per_table(self):
        before = by_name(self.cell_before)
        loaded = self.summary['cell']
        for name, entry in by_name(self.cell).items():
            archived = ARCHIVED if name == 'shadow_' + ARCHIVED_TABLE else 0
            self.assertEqual(
                before[name]['rows'] + loaded.get(name, {}).get('rows', 0) +
                archived, entry['rows'], name)
        api_before = by_name(self.api_before)
        api_loaded = self.summary['api']
        for name, entry in by_name(self.api).items():
            # cell_mappings also holds the cell1 mapping the loader made.
            added = (1 if name == 'cell_mappings'
                     else api_loaded.get(name, {}).get('rows', 0))
            self.assertEqual(api_before[name]['rows'] + added,
                             entry['rows'], name)

    def test_totals(self):
        loaded = self.summary['cell']
        totals = self.cell['totals']
        self.assertEqual(self.cell_before['totals']['rows'] +
                         sum(s['rows'] for s in loaded.values()) + ARCHIVED,
                         totals['rows'])
        self.assertEqual(sum(s['soft_deleted'] for s in loaded.values()),
                         totals['soft_deleted'])
        self.assertEqual(len(self.cell['tables']), totals['tables'])
        expected = dict.fromkeys(census.BUCKET_NAMES, 0)
        for stats in loaded.values():
            for name, rows in self._expected_buckets(stats).items():
                expected[name] += rows
        self.assertEqual(expected, totals['age_buckets'])

    def test_sees_every_table_and_shadow_table(self):
        tables = by_name(self.cell)
        shadows = {n for n in tables if n.startswith('shadow_')}
        self.assertGreaterEqual(len(set(tables) - shadows), 55)
        self.assertGreaterEqual(len(shadows), 50)
        for name in shadows:
            expected = ARCHIVED if name == 'shadow_' + ARCHIVED_TABLE else 0
            self.assertEqual(expected, tables[name]['rows'], name)

    def test_archived_rows_per_table(self):
        tables = by_name(self.cell)
        shadows = {n for n in tables if n.startswith('shadow_')}
        for name in shadows:
            source = name[len('shadow_'):]
            # Every nova shadow table has its source table.
            self.assertEqual(source, tables[name]['shadow_of'], name)
            self.assertIsNone(tables[name]['soft_deleted'], name)
            expected = ARCHIVED if source == ARCHIVED_TABLE else 0
            self.assertEqual(expected, tables[source]['archived'], source)
        for name in set(tables) - shadows:
            if 'shadow_' + name not in tables:
                self.assertIsNone(tables[name]['archived'], name)
        self.assertEqual(ARCHIVED, self.cell['totals']['archived'])
        # The copies kept their deleted flag, yet the table's soft-deleted
        # count is its own rows only.
        self.assertEqual(self.summary['cell'][ARCHIVED_TABLE]['soft_deleted'],
                         tables[ARCHIVED_TABLE]['soft_deleted'])
        self.assertEqual(0, self.cell_before['totals']['archived'])
        for entry in self.api['tables']:
            self.assertIsNone(entry['archived'], entry['name'])

    def test_api_db_has_no_soft_delete(self):
        # The API DB hard-deletes: no table of it has a deleted column.
        for entry in self.api['tables']:
            self.assertIsNone(entry['soft_deleted'], entry['name'])
        self.assertEqual(0, self.api['totals']['soft_deleted'])
        self.assertEqual('nova_api', self.api['profile'])


class TestNovaCensusSQLite(_NovaCensusTest, base.TestCase):
    BACKEND = 'sqlite'


class TestNovaCensusMySQL(_NovaCensusTest, base.TestCase):
    BACKEND = 'mysql'


class TestNovaCensusPostgreSQL(_NovaCensusTest, base.TestCase):
    BACKEND = 'postgresql'
