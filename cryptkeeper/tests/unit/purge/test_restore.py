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

"""Restore from the database and files backends into a real SQLite source.

The module-level helpers (a small nova-like schema, and archiving by the
executor's batch protocol) serve the other backend tests too.
"""

import datetime
import decimal
import json
import os

import fixtures
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import params as params_mod
from cryptkeeper.purge import restore
from cryptkeeper.purge import rows as rows_mod
from cryptkeeper.purge import schema
from cryptkeeper.tests import base

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0)
STATES = ('active', 'stopped', 'deleted', 'error')
TABLES = ('instances', 'instance_metadata', 'instance_faults', 'tags')
CHILDREN = ('instance_metadata', 'instance_faults', 'tags')
# Microseconds kept on MySQL too: the hard case for a copy elsewhere.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def build_source(engine, deleted=9, live=3, now=NOW):
    """Create and fill the schema; return its MetaData.

    ``deleted`` soft-deleted instances (ids 1..deleted, one day apart in
    age) and ``live`` live ones, each with 3 metadata rows, a fault and 2
    tags.
    """
    meta = sa.MetaData()
    sa.Table('instances', meta,
             sa.Column('id', sa.Integer, primary_key=True),
             sa.Column('uuid', sa.String(36), nullable=False, unique=True),
             sa.Column('vm_state', sa.Enum(*STATES, name='vm_states')),
             sa.Column('locked', sa.Boolean),
             sa.Column('memory_gb', sa.Numeric(10, 2)),
             sa.Column('user_data', sa.LargeBinary),
             sa.Column('notes', sa.Text),
             sa.Column('created_at', DATETIME),
             sa.Column('updated_at', DATETIME),
             sa.Column('deleted_at', DATETIME),
             sa.Column('deleted', sa.Integer, default=0),
             mysql_engine='InnoDB')
    for name, extra in (('instance_metadata',
                         [sa.Column('key', sa.String(255)),
                          sa.Column('value', sa.String(255))]),
                        ('instance_faults',
                         [sa.Column('code', sa.Integer),
                          sa.Column('message', sa.String(255))])):
        sa.Table(name, meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('instance_uuid', sa.String(36),
                           sa.ForeignKey('instances.uuid')),
                 *extra,
                 sa.Column('created_at', DATETIME),
                 sa.Column('updated_at', DATETIME),
                 sa.Column('deleted_at', DATETIME),
                 sa.Column('deleted', sa.Integer, default=0),
                 mysql_engine='InnoDB')
    # A composite key, and no soft delete of its own.
    sa.Table('tags', meta,
             sa.Column('resource_id', sa.String(36), primary_key=True),
             sa.Column('tag', sa.String(80), primary_key=True),
             sa.Column('created_at', DATETIME),
             mysql_engine='InnoDB')
    meta.create_all(engine)
    fill(engine, meta, range(1, deleted + 1), now, soft_deleted=True)
    fill(engine, meta, range(deleted + 1, deleted + live + 1), now,
         soft_deleted=False)
    return meta


def uuid_of(n):
    return '00000000-0000-4000-8000-%012d' % n


def fill(engine, meta, ids, now, soft_deleted=True):
    t = meta.tables
    instances, md, faults, tags = [], [], [], []
    for n in ids:
        created = now - datetime.timedelta(days=400, microseconds=n)
        gone = (now - datetime.timedelta(days=n, seconds=n,
                                         microseconds=1000 + n)
                if soft_deleted else None)
        uuid = uuid_of(n)
        instances.append({
            'id': n, 'uuid': uuid, 'vm_state': STATES[n % len(STATES)],
            'locked': (None, True, False)[n % 3],
            'memory_gb': decimal.Decimal('%d.%02d' % (n, n % 100)),
            'user_data': bytes([0, 255, n % 256, 10, 13]),
            'notes': 'inst\u00e9 %d \u2713 "quoted"\n' % n,
            'created_at': created, 'updated_at': gone,
            'deleted_at': gone, 'deleted': n if soft_deleted else 0})
        for i in range(3):
            md.append({'id': n * 10 + i, 'instance_uuid': uuid,
                       'key': 'k%d' % i, 'value': 'v%d-%d' % (n, i),
                       'created_at': created, 'updated_at': None,
                       'deleted_at': gone,
                       'deleted': n * 10 + i if soft_deleted else 0})
        faults.append({'id': n, 'instance_uuid': uuid, 'code': 500,
                       'message': 'boom %d' % n, 'created_at': created,
                       'updated_at': None, 'deleted_at': gone,
                       'deleted': n if soft_deleted else 0})
        for tag in ('blue', 'green'):
            tags.append({'resource_id': uuid, 'tag': tag,
                         'created_at': created})
    with engine.begin() as conn:
        conn.execute(t['instances'].insert(), instances)
        conn.execute(t['instance_metadata'].insert(), md)
        conn.execute(t['instance_faults'].insert(), faults)
        conn.execute(t['tags'].insert(), tags)


def reflect(engine):
    return schema.reflect(engine, 'generic')


def source_database(test):
    """A source database filled by ``build_source``, in a temp directory.

    :returns: (the directory, an engine of the source, its graph).
    """
    tmp = test.useFixture(fixtures.TempDir()).path
    engine = sa.create_engine(
        'sqlite:///' + os.path.join(tmp, 'source.sqlite'))
    test.addCleanup(engine.dispose)
    build_source(engine)
    return tmp, engine, reflect(engine)


def source_rows(engine, graph, name, ids=None):
    """The rows of a table; with ``ids``, those of these primary keys."""
    table = graph.tables[name]
    stmt = sa.select(table)
    if ids is not None:
        stmt = stmt.where(table.c[graph.pk(name)[0]].in_(ids))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def snapshot(engine, graph, names=TABLES):
    """{table: (count, sha256)} of every row of each table."""
    out = {}
    with engine.connect() as conn:
        for name in names:
            table = graph.tables[name]
            rows = [dict(r) for r in conn.execute(sa.select(table))
                    .mappings()]
            out[name] = rows_mod.digest(rows, graph.pk(name))
    return out


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table)).scalar()


def select_tree(conn, graph, ids):
    """The rows of one batch: instances ``ids`` and what hangs off them."""
    t = graph.tables
    parents = [dict(r) for r in conn.execute(
        sa.select(t['instances']).where(t['instances'].c.id.in_(ids))
        .order_by(t['instances'].c.id)).mappings()]
    uuids = [r['uuid'] for r in parents]
    found = {'instances': parents}
    for name, col in (('instance_metadata', 'instance_uuid'),
                      ('instance_faults', 'instance_uuid'),
                      ('tags', 'resource_id')):
        found[name] = [dict(r) for r in conn.execute(
            sa.select(t[name]).where(t[name].c[col].in_(uuids)))
            .mappings()]
    return found


def archive(engine, graph, backend, journal, groups, crash_before=None):
    """Archive each group of instance ids as one batch.

    By the executor's protocol: journal first, write child-first, flush,
    verify, delete child-first from the source, journal done.

    :param crash_before: 'delete' to stop the last batch after its archive
        copy is durable and before the source delete, as a killed worker
        would.
    :returns: (done batches, the batch stopped before its delete).
    """
    backend.prepare(graph, list(TABLES))
    order = graph.delete_order(list(TABLES))
    done = []
    for i, ids in enumerate(groups):
        seq = journal.next_seq()
        with engine.begin() as conn:
            rows = select_tree(conn, graph, ids)
            keys = {name: [rows_mod.key_of(r, graph.pk(name))
                           for r in rows[name]] for name in TABLES}
            # Keys go through JSON, as the database journal stores them.
            batch = journal_mod.Batch(
                seq=seq, root='instances', marker=[max(ids)],
                keys=json.loads(json.dumps(keys)),
                counts={n: len(rows[n]) for n in TABLES})
            journal.prepare(batch)
            expected = {}
            atomic = conn if backend.atomic_with_source else None
            for name in order:
                res = backend.write(atomic, graph.tables[name], rows[name],
                                    batch)
                expected[name] = rows_mod.digest(rows[name], graph.pk(name))
                assert (res['rows'], res['sha256']) == expected[name], name
                batch.checksums[name] = res['sha256']
            backend.flush(batch)
            for name in order:
                backend.verify(atomic, graph.tables[name], batch.keys[name],
                               {'rows': expected[name][0],
                                'sha256': expected[name][1]})
            if crash_before == 'delete' and i == len(groups) - 1:
                return done, batch
            for name in order:
                table = graph.tables[name]
                cols = backends.pk_columns(table)
                conn.execute(table.delete().where(
                    backends.keys_clause(cols, keys[name])))
        journal.done(batch)
        done.append(batch)
    return done, None


class WorkerKilled(Exception):
    """Stands for kill -9: nothing after it runs."""


class CrashAfterFlush:
    """A backend that dies once batch ``seq`` is durable in the archive.

    That is before the source delete commits.
    """

    def __init__(self, backend, seq):
        self._backend = backend
        self._seq = seq

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def flush(self, batch):
        self._backend.flush(batch)
        if batch.seq == self._seq:
            raise WorkerKilled()


def archive_params(kind, batch_size=4):
    return params_mod.Params.from_dict(
        {'mode': 'archive', 'older_than': 0, 'batch_size': batch_size,
         'backend': kind}, now=NOW)


def archived_counts(backend, graph, journal):
    """{table: archived copies} of every key the journal holds.

    A key archived twice counts twice.
    """
    out = {}
    for batch in journal.batches(state=None):
        for name, keys in batch.keys.items():
            for key in keys:
                out[name] = out.get(name, 0) + backend.contains(
                    graph.tables[name], [key])
    return out


class RecordingProgress:

    def __init__(self):
        self.calls = []

    def __call__(self, tables, **extra):
        self.calls.append((tables, extra))


class _RestoreTests:
    """Run against each backend; ``make_backend`` names it."""

    def setUp(self):
        super().setUp()
        self.tmp, self.engine, self.graph = source_database(self)
        self.before = snapshot(self.engine, self.graph)
        self.backend = self.make_backend()
        self.addCleanup(self.backend.close)
        self.journal = journal_mod.MemoryJournal()

    def _archive(self, groups=((1, 2, 3), (4, 5, 6), (7, 8, 9))):
        return archive(self.engine, self.graph, self.backend, self.journal,
                       groups)[0]

    def test_restore_puts_every_row_back_identically(self):
        self._archive()
        self.assertEqual(3, count(self.engine,
                                  self.graph.tables['instances']))
        progress = RecordingProgress()
        result = restore.restore(self.engine, self.graph, self.backend,
                                 self.journal, progress=progress)
        self.assertEqual(self.before, snapshot(self.engine, self.graph))
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual({'instances': {'restored': 9},
                          'instance_metadata': {'restored': 27},
                          'instance_faults': {'restored': 9},
                          'tags': {'restored': 18}}, result['tables'])
        self.assertEqual({'restored': 63}, result['totals'])
        self.assertEqual(3, result['batches'])
        self.assertEqual(3, len(progress.calls))
        self.assertEqual({'restored': 3},
                         progress.calls[0][0]['instances'])
        self.assertEqual(3, progress.calls[-1][1]['batches'])
        # The archived copies are gone and the journal knows it.
        for batch in self.journal.batches(state=journal_mod.RESTORED):
            for name, keys in batch.keys.items():
                self.assertEqual(0, self.backend.contains(
                    self.graph.tables[name], keys), name)
        self.assertEqual([], list(self.journal.batches()))
        self.assertEqual(3, len(list(self.journal.batches(
            state=journal_mod.RESTORED))))
        json.dumps(result)

    def test_round_trip_with_the_executor(self):
        result = executor.archive(self.engine, self.graph, self.backend,
                                  archive_params(self.backend.kind),
                                  self.journal)
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual(9, result['tables']['instances']['archived'])
        # The 3 live instances' metadata stays.
        self.assertEqual(9, count(self.engine, self.graph.tables[
            'instance_metadata']))
        back = restore.restore(self.engine, self.graph, self.backend,
                               self.journal)
        self.assertEqual(self.before, snapshot(self.engine, self.graph))
        self.assertEqual(45, back['totals']['restored'])
        # The same per-table checksum chain as the archive job's.
        self.assertEqual(result['checksums'], back['checksums'])

    def test_nothing_to_restore(self):
        self.assertRaises(errors.NothingToRestore, restore.restore,
                          self.engine, self.graph, self.backend,
                          self.journal)
        self._archive()
        restore.restore(self.engine, self.graph, self.backend, self.journal)
        # Restored once: a second restore finds nothing left to do.
        self.assertRaises(errors.NothingToRestore, restore.restore,
                          self.engine, self.graph, self.backend,
                          self.journal)

    def test_conflict_names_keys_and_overwrites_nothing(self):
        self._archive()
        # Instance 5 comes back under the same key, another row now.
        instances = self.graph.tables['instances']
        with self.engine.begin() as conn:
            conn.execute(instances.insert().values(
                id=5, uuid='ffffffff-0000-4000-8000-000000000005',
                vm_state='active', deleted=0, notes='new tenant'))
        result = restore.restore(self.engine, self.graph, self.backend,
                                 self.journal)
        self.assertEqual('partial', result['outcome'])
        self.assertIn('instances: [5]', result['reason'])
        self.assertEqual(1, result['refused_batches'])
        refused = result['refused'][0]
        self.assertEqual(2, refused['batch'])
        self.assertEqual('RestoreConflict', refused['kind'])
        self.assertEqual({'instances': [[5]]}, refused['conflicts'])
        self.assertEqual(2, result['batches'])
        self.assertEqual({'restored': 6}, result['tables']['instances'])
        # The new row is untouched; batch 2 stays archived and done.
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(instances).where(
                instances.c.id == 5)).mappings().one()
        self.assertEqual('new tenant', row['notes'])
        self.assertEqual(0, count(self.engine, self.graph.tables['tags']) -
                         2 * (3 + 6))
        [left] = list(self.journal.batches())
        self.assertEqual(2, left.seq)
        self.assertEqual(3, self.backend.contains(
            instances, left.keys['instances']))

    def test_every_batch_refused_raises_with_keys(self):
        self._archive(groups=[(4, 5)])
        with self.engine.begin() as conn:
            conn.execute(self.graph.tables['tags'].insert().values(
                resource_id=uuid_of(4), tag='blue', created_at=NOW))
        exc = self.assertRaises(errors.RestoreConflict, restore.restore,
                                self.engine, self.graph, self.backend,
                                self.journal)
        self.assertIn('tags', exc.message)
        self.assertIn(uuid_of(4), exc.message)
        self.assertEqual(
            {'tags': [[uuid_of(4), 'blue']]}, exc.conflicts)
        self.assertEqual(1, len(list(self.journal.batches())))

    def test_resume_after_crash_before_archive_removal(self):
        self._archive()
        real_remove = self.backend.remove
        calls = []

        def crash(table, keys):
            calls.append(table)
            if len(calls) == 5:
                # Batch 2's source rows are committed; the worker dies
                # before its archived copies go.
                raise RuntimeError('worker killed')
            return real_remove(table, keys)

        self.backend.remove = crash
        self.assertRaises(RuntimeError, restore.restore, self.engine,
                          self.graph, self.backend, self.journal)
        self.backend.remove = real_remove
        self.assertEqual(1, len(list(self.journal.batches(
            state=journal_mod.RESTORED))))
        result = restore.restore(self.engine, self.graph, self.backend,
                                 self.journal)
        self.assertEqual('succeeded', result['outcome'])
        # Batches 2 and 3, batch 2 recognised as already back.
        self.assertEqual({'restored': 6}, result['tables']['instances'])
        self.assertEqual(self.before, snapshot(self.engine, self.graph))
        for batch in self.journal.batches(state=journal_mod.RESTORED):
            for name, keys in batch.keys.items():
                self.assertEqual(0, self.backend.contains(
                    self.graph.tables[name], keys))

    def test_resume_after_crash_before_journal(self):
        self._archive(groups=[(1, 2)])
        journal = self.journal
        real = journal.mark_restored

        def crash(batch):
            raise RuntimeError('worker killed')

        journal.mark_restored = crash
        self.assertRaises(RuntimeError, restore.restore, self.engine,
                          self.graph, self.backend, journal)
        journal.mark_restored = real
        result = restore.restore(self.engine, self.graph, self.backend,
                                 journal)
        self.assertEqual({'restored': 2}, result['tables']['instances'])
        after = snapshot(self.engine, self.graph)
        self.assertEqual(self.before, after)

    def test_archive_missing_rows_is_refused(self):
        batches = self._archive(groups=[(1, 2), (3,)])
        # Batch 1's metadata copies are gone (expired, or removed by hand).
        self.backend.remove(self.graph.tables['instance_metadata'],
                            batches[0].keys['instance_metadata'][:2])
        result = restore.restore(self.engine, self.graph, self.backend,
                                 self.journal)
        self.assertEqual('partial', result['outcome'])
        self.assertEqual('VerificationFailed', result['refused'][0]['kind'])
        self.assertIn('4 of the 6 rows of instance_metadata',
                      result['refused'][0]['message'])
        # Nothing of batch 1 went back, batch 2 did.
        with self.engine.connect() as conn:
            ids = sorted(conn.execute(sa.select(
                self.graph.tables['instances'].c.id)).scalars())
        self.assertEqual([3] + list(range(4, 13)), ids)

    def test_followups_restored_into_the_api_database(self):
        api_engine = sa.create_engine(
            'sqlite:///' + os.path.join(self.tmp, 'api.sqlite'))
        self.addCleanup(api_engine.dispose)
        meta = sa.MetaData()
        mappings = sa.Table(
            'instance_mappings', meta,
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('instance_uuid', sa.String(36), unique=True),
            sa.Column('created_at', sa.DateTime))
        meta.create_all(api_engine)
        with api_engine.begin() as conn:
            conn.execute(mappings.insert(), [
                {'id': n, 'instance_uuid': uuid_of(n), 'created_at': NOW}
                for n in (1, 2, 3)])
        api_graph = reflect(api_engine)
        api_before = snapshot(api_engine, api_graph, ['instance_mappings'])
        api_backend = self.make_backend(job='api', engine=api_engine)
        self.addCleanup(api_backend.close)
        api_backend.prepare(api_graph, ['instance_mappings'])
        batches = self._archive(groups=[(1, 2), (3,)])
        # What the executor does for a follow-up: archive the API rows of
        # the batch's instances, then delete them.
        for batch, ids in zip(batches, [(1, 2), (3,)], strict=True):
            with api_engine.begin() as conn:
                rows = [dict(r) for r in conn.execute(sa.select(
                    mappings).where(mappings.c.id.in_(ids))).mappings()]
                api_backend.write(
                    conn if api_backend.atomic_with_source else None,
                    api_graph.tables['instance_mappings'], rows, batch)
                api_backend.flush(batch)
                conn.execute(mappings.delete().where(
                    mappings.c.id.in_(ids)))
            batch.followup = {'nova_api': {
                'instance_mappings': [[i] for i in ids]}}
            self.journal.done(batch)
        self.assertEqual(0, count(api_engine, mappings))

        # Without the API target: cell rows back, mappings stay archived,
        # the batches stay open, and the result says so.
        result = restore.restore(self.engine, self.graph, self.backend,
                                 self.journal)
        self.assertEqual('partial', result['outcome'])
        self.assertIn('3 follow-up rows', result['followups']['skipped'])
        self.assertEqual(2, len(list(self.journal.batches())))
        self.assertEqual(self.before, snapshot(self.engine, self.graph))

        result = restore.restore(
            self.engine, self.graph, self.backend, self.journal,
            api=(api_engine, api_graph, api_backend))
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual({'nova_api': {'instance_mappings': {'restored': 3}}},
                         result['followups'])
        self.assertEqual(api_before, snapshot(api_engine, api_graph,
                                              ['instance_mappings']))
        self.assertEqual([], list(self.journal.batches()))
        self.assertEqual(0, api_backend.contains(
            mappings, [[1], [2], [3]]))


class _SeparateArchiveTests(_RestoreTests):
    """Backends whose copy is made outside the source transaction.

    Only they have a moment between the archive write and the source
    delete for a worker to die in; shadow tables share one transaction.
    """

    def test_resume_between_archive_write_and_source_delete(self):
        crashing = CrashAfterFlush(self.backend, 2)
        self.assertRaises(WorkerKilled, executor.archive, self.engine,
                          self.graph, crashing, archive_params(
                              self.backend.kind), self.journal)
        [pending] = self.journal.pending()
        self.assertEqual(2, pending.seq)
        # Batch 2 is in the archive and still in the source.
        self.assertEqual(4, self.backend.contains(
            self.graph.tables['instances'], pending.keys['instances']))
        # 12 instances less batch 1's 4.
        self.assertEqual(8, count(self.engine,
                                  self.graph.tables['instances']))
        # Another worker, another backend object, the same journal.
        backend = self.make_backend()
        self.addCleanup(backend.close)
        result = executor.archive(self.engine, self.graph, backend,
                                  archive_params(self.backend.kind),
                                  self.journal)
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual(3, count(self.engine,
                                  self.graph.tables['instances']))
        self.assertEqual({'instances': 9, 'instance_metadata': 27,
                          'instance_faults': 9},
                         archived_counts(backend, self.graph, self.journal))
        restore.restore(self.engine, self.graph, backend, self.journal)
        self.assertEqual(self.before, snapshot(self.engine, self.graph))


class TestRestoreDatabaseBackend(_SeparateArchiveTests, base.TestCase):

    def make_backend(self, job='archive', engine=None):
        return backends.get('database', url='sqlite:///' + os.path.join(
            self.tmp, 'archive-%s.sqlite' % job))


class TestRestoreFilesBackend(_SeparateArchiveTests, base.TestCase):

    def make_backend(self, job='archive', engine=None):
        return backends.get('files', directory=os.path.join(self.tmp, 'ar'),
                            job_id='job-%s' % job)


class TestRestoreShadowBackend(_RestoreTests, base.TestCase):

    def make_backend(self, job='archive', engine=None):
        return backends.get('shadow', engine=engine or self.engine)
