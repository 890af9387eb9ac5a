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

"""Archive mode on real SQLite files with enforced foreign keys.

Crashes are simulated by raising from the real backend or journal at the
worst moments; the next run on the same journal must end with exactly
the rows archived once.
"""

import datetime
import decimal
import hashlib
import json
import os
from unittest import mock

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import pymysql
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.purge.backends import database
from cryptkeeper.purge.backends import shadow
from cryptkeeper.purge import errors
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params
from cryptkeeper.purge import plan
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.purge import schema
from cryptkeeper.tests.unit.purge import test_schema as fixture

CELL_TABLES = ('instances', 'instance_system_metadata', 'instance_actions',
               'instance_actions_events', 'instance_extra', 'fixed_ips',
               'share_mapping', 'task_log')


class Crash(Exception):
    """Stands for the worker dying at that point."""


class CrashingBackend(shadow.ShadowBackend):
    """The real shadow backend, which dies once at a chosen call."""

    def __init__(self, engine, crash_at=None, error=None, **kw):
        super().__init__(engine=engine, **kw)
        self.crash_at = crash_at or {}
        self.error = error or Crash
        self.calls = {}

    def _maybe(self, what):
        self.calls[what] = self.calls.get(what, 0) + 1
        if self.crash_at.get(what) == self.calls[what]:
            error = self.error
            raise error() if isinstance(error, type) else error

    def write(self, conn, table, rows, batch):
        result = super().write(conn, table, rows, batch)
        self._maybe('write')
        return result

    def verify(self, conn, table, keys, expected):
        self._maybe('verify')
        return super().verify(conn, table, keys, expected)


class CrashingJournal(purge_journal.MemoryJournal):

    def __init__(self, crash_done_at=None):
        super().__init__()
        self.crash_done_at = crash_done_at
        self.done_calls = 0

    def done(self, batch):
        self.done_calls += 1
        if self.done_calls == self.crash_done_at:
            raise Crash()
        super().done(batch)


def snapshot(engine, tables=CELL_TABLES):
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            out[name] = {r['id']: dict(r) for r in conn.execute(
                sa.select(table)).mappings()}
    return out


def shadow_rows(engine, name):
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table('shadow_' + name):
            return []
        table = sa.Table('shadow_' + name, sa.MetaData(),
                         autoload_with=conn)
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


class ExecutorTestCase(fixture.SchemaTestCase):

    def setUp(self):
        super().setUp()
        self.graph = schema.reflect(self.engine, 'nova')
        self.before = snapshot(self.engine)
        self.sleeps = []

    def params(self, **data):
        data.setdefault('mode', 'archive')
        data.setdefault('older_than', 30)
        return params.Params.from_dict(data, now=fixture.NOW)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        return False

    def archive(self, journal=None, backend=None, **data):
        self.journal = journal or getattr(self, 'journal', None) or \
            purge_journal.MemoryJournal()
        backend = backend or shadow.ShadowBackend(engine=self.engine)
        return executor.archive(self.engine, self.graph, backend,
                                self.params(**data), self.journal,
                                sleep=self.sleep, now=fixture.NOW,
                                progress=getattr(self, 'progress', None))

    def moved(self):
        """{table: {id: row}} gone from the source since setUp."""
        after = snapshot(self.engine)
        return {name: {i: r for i, r in rows.items()
                       if i not in after[name]}
                for name, rows in self.before.items()}, after

    def assert_exactly_archived(self, expected):
        moved, after = self.moved()
        self.assertEqual(expected, {n: len(r) for n, r in moved.items()
                                    if r})
        for name, rows in moved.items():
            copies = shadow_rows(self.engine, name)
            # Every removed row is in the archive, once, unchanged.
            self.assertEqual(purge_rows.digest(rows.values(), ['id']),
                             purge_rows.digest(copies, ['id']), name)
            # Nothing else was touched.
            kept = [r for i, r in self.before[name].items()
                    if i not in rows]
            self.assertEqual(purge_rows.digest(kept, ['id']),
                             purge_rows.digest(after[name].values(),
                                               ['id']), name)
        return moved


class TestArchive(ExecutorTestCase):

    def test_archives_what_plan_planned_and_nothing_else(self):
        p = self.params()
        planned = plan.plan(self.engine, 'nova', p, now=fixture.NOW)
        result = self.archive()
        moved = self.assert_exactly_archived(fixture.EXPECTED_30D)
        self.assertEqual({1, 2, 3, 4}, set(moved['instances']))
        for name, n in fixture.EXPECTED_30D.items():
            self.assertEqual(
                {'planned': n, 'archived': n, 'deleted': n},
                result['tables'][name], name)
            self.assertEqual(planned['tables'][name]['planned'], n)
        self.assertEqual(sum(fixture.EXPECTED_30D.values()),
                         result['totals']['archived'])
        self.assertEqual({'kind': 'shadow',
                          'tables': 'shadow_<table> in the target'},
                         result['location'])
        self.assertEqual(set(fixture.EXPECTED_30D),
                         set(result['checksums']))

    def test_planned_counts_in_small_chunks_are_exact(self):
        # One- and two-row chunks: every keyset boundary is crossed.
        for first, least in ((1, 1), (2, 2)):
            patches = (mock.patch.object(plan, 'COUNT_FIRST_CHUNK', first),
                       mock.patch.object(plan, '_next_chunk',
                                         lambda size, elapsed, n=least: n))
            for patch in patches:
                patch.start()
                self.addCleanup(patch.stop)
            p = self.params()
            now = fixture.NOW
            with self.engine.connect() as conn:
                planned = plan.planned_counts(conn, self.graph, p,
                                              p.cutoff(now), now)
            expected = plan.plan(self.engine, 'nova', p, now=now)
            self.assertEqual(
                {n: e['planned'] for n, e in expected['tables'].items()},
                planned)
            for name, n in fixture.EXPECTED_30D.items():
                self.assertEqual(n, planned[name], name)

    def test_rows_held_by_live_rows_make_the_job_partial(self):
        result = self.archive()
        self.assertEqual('partial', result['outcome'])
        self.assertEqual(fixture.BLOCKED_30D, result['left'])
        self.assertEqual({'instances': fixture.BLOCKED_BY_30D},
                         result['blocked_by'])
        self.assertIn('2 rows of instances were left', result['reason'])
        self.assertIn('1 in share_mapping', result['reason'])
        self.assertIn('1 in fixed_ips', result['reason'])

    def test_succeeds_when_nothing_is_left(self):
        with self.engine.begin() as conn:
            conn.exec_driver_sql('DELETE FROM share_mapping')
            conn.exec_driver_sql(
                'UPDATE fixed_ips SET deleted = id, deleted_at = '
                "'2025-01-01 00:00:00'")
        result = self.archive()
        self.assertEqual('succeeded', result['outcome'])
        self.assertNotIn('reason', result)
        self.assertEqual(6, result['tables']['instances']['archived'])

    def test_followups_skipped_without_an_api_target(self):
        result = self.archive()
        self.assertEqual({'skipped': executor.NO_API_TARGET},
                         result['followups'])

    def test_everything_deleted(self):
        result = self.archive(older_than=0)
        self.assertEqual(7, result['tables']['instances']['archived'])

    def test_small_batches_keep_their_markers(self):
        result = self.archive(batch_size=1)
        self.assert_exactly_archived(fixture.EXPECTED_30D)
        batches = list(self.journal.batches())
        # Four instances, then the seven system metadata rows of their
        # own; the held instances make no batch.
        self.assertEqual(4 + 7, len(batches))
        self.assertEqual(11, result['batches'])
        self.assertEqual(list(range(1, 12)), [b.seq for b in batches])
        self.assertEqual([[1], [2], [3], [4]],
                         [b.marker for b in batches[:4]])
        first = batches[0]
        self.assertEqual([[1]], first.keys['instances'])
        self.assertEqual(3, first.counts['instance_system_metadata'])
        self.assertEqual(purge_journal.DONE, first.state)
        self.assertEqual([4], self.journal.last_marker()['instances'])

    def test_project_scope(self):
        result = self.archive(project_id=fixture.OTHER_PROJECT)
        self.assertEqual({}, result['tables'])
        result = self.archive(project_id=fixture.PROJECT)
        self.assertEqual(4, result['tables']['instances']['archived'])
        self.assertEqual(12, result['tables']['instance_system_metadata'][
            'archived'])

    def test_opt_in_table(self):
        result = self.archive(older_than=0, tables=['task_log'])
        self.assertEqual({'task_log': {'planned': 1, 'archived': 1,
                                       'deleted': 1}}, result['tables'])
        self.assertEqual(['old'], [r['task_name'] for r in shadow_rows(
            self.engine, 'task_log')])

    def test_a_second_run_finds_nothing_more(self):
        self.archive()
        result = self.archive(journal=purge_journal.MemoryJournal())
        self.assertEqual(0, result['totals']['archived'])
        self.assertEqual(fixture.BLOCKED_30D, result['left'])

    def test_progress_per_table(self):
        reports = []
        self.progress = lambda tables, **extra: reports.append(
            (tables, extra))
        self.archive(batch_size=2)
        tables, extra = reports[0]
        self.assertEqual({'planned': 4, 'archived': 0, 'deleted': 0},
                         tables['instances'])
        tables, extra = reports[-1]
        self.assertEqual({'planned': 4, 'archived': 4, 'deleted': 4},
                         tables['instances'])
        self.assertIn('batches', extra)

    def test_cycle_is_refused_before_anything_is_written(self):
        path = os.path.join(self.tmp, 'cycle.sqlite')
        engine = fixture.sqlite_engine(path, foreign_keys=False)
        self.addCleanup(engine.dispose)
        meta = sa.MetaData()
        fixture.define_cycle(meta)
        meta.create_all(engine)
        graph = schema.reflect(engine, 'generic')
        exc = self.assertRaises(
            errors.PurgeError, executor.archive, engine, graph,
            shadow.ShadowBackend(engine=engine), self.params(),
            purge_journal.MemoryJournal())
        self.assertIn('cycle', exc.message)
        self.assertFalse(sa.inspect(engine).has_table('shadow_a'))


class TestStatementsPerBatch(ExecutorTestCase):
    """Never a statement per row: the count does not grow with rows."""

    def _count(self, name, extra_sysmeta):
        engine = fixture.sqlite_engine(os.path.join(self.tmp, name))
        self.addCleanup(engine.dispose)
        fixture.build(engine)
        with engine.begin() as conn:
            table = sa.Table('instance_system_metadata', sa.MetaData(),
                             autoload_with=conn)
            conn.execute(table.insert(), [
                {'id': 1000 + i, 'instance_uuid': 'inst-0001',
                 'key': 'x%d' % i, 'deleted': 1000 + i,
                 'deleted_at': fixture.OLD} for i in range(extra_sysmeta)])
        seen = []

        @event.listens_for(engine, 'before_cursor_execute')
        def _record(conn, cursor, statement, parameters, context, many):
            seen.append(statement)

        result = executor.archive(
            engine, schema.reflect(engine, 'nova'),
            shadow.ShadowBackend(engine=engine),
            self.params(batch_size=10000), purge_journal.MemoryJournal(),
            now=fixture.NOW)
        return len(seen), result['totals']['archived']

    def test_more_rows_same_statements(self):
        few, few_rows = self._count('few.sqlite', 5)
        many, many_rows = self._count('many.sqlite', 500)
        self.assertEqual(495, many_rows - few_rows)
        self.assertEqual(few, many)


class TestCrashes(ExecutorTestCase):

    def resume_and_check(self):
        result = self.archive(journal=self.journal)
        self.assert_exactly_archived(fixture.EXPECTED_30D)
        for name, n in fixture.EXPECTED_30D.items():
            self.assertEqual(n, result['tables'][name]['archived'], name)
        self.assertEqual([], self.journal.pending())
        done = list(self.journal.batches())
        counted = {}
        for batch in done:
            for name, n in batch.counts.items():
                counted[name] = counted.get(name, 0) + n
        self.assertEqual(fixture.EXPECTED_30D, counted)
        return result

    def test_killed_while_writing_a_batch(self):
        journal = purge_journal.MemoryJournal()
        # Five tables a batch: the second batch dies after its second.
        backend = CrashingBackend(self.engine, crash_at={'write': 7})
        self.assertRaises(Crash, self.archive, journal=journal,
                          backend=backend, batch_size=2)
        pending = journal.pending()
        self.assertEqual(1, len(pending))
        # The source transaction was rolled back: nothing of it anywhere.
        self.assertEqual(2, len(list(journal.batches())) + len(pending))
        result = self.resume_and_check()
        settled = list(journal.batches())[1]
        self.assertEqual({}, settled.keys)
        # Closed empty, where the first batch ended.
        self.assertEqual([2], settled.marker)
        self.assertEqual('partial', result['outcome'])

    def test_killed_after_commit_before_done(self):
        journal = CrashingJournal(crash_done_at=2)
        self.assertRaises(Crash, self.archive, journal=journal,
                          batch_size=2)
        pending, = journal.pending()
        # Committed: the rows are archived and gone; the journal lags.
        self.assertEqual(2, len(pending.keys['instances']))
        self.resume_and_check()
        settled = [b for b in journal.batches() if b.seq == pending.seq][0]
        self.assertEqual(pending.keys, settled.keys)

    def test_stopped_between_batches(self):
        calls = []

        def progress(tables, **extra):
            calls.append(tables)
            if len(calls) == 3:
                raise Crash()

        self.progress = progress
        self.assertRaises(Crash, self.archive, batch_size=1)
        self.assertEqual([], self.journal.pending())
        self.progress = None
        result = self.resume_and_check()
        # This run's planned rows plus the earlier runs' archived rows.
        self.assertEqual(4, result['tables']['instances']['planned'])

    def test_killed_in_every_batch_still_exact(self):
        journal = purge_journal.MemoryJournal()
        for attempt in range(1, 30):
            backend = CrashingBackend(self.engine,
                                      crash_at={'verify': attempt})
            try:
                self.archive(journal=journal, backend=backend,
                             batch_size=3)
            except Crash:
                continue
            break
        self.assertGreater(attempt, 3)
        self.resume_and_check()


class TestRetries(ExecutorTestCase):

    def test_deadlock_is_retried(self):
        deadlock = sa.exc.OperationalError(
            'DELETE ...', {}, pymysql.err.OperationalError(
                1213, 'Deadlock found when trying to get lock'))
        backend = CrashingBackend(self.engine, crash_at={'verify': 2},
                                  error=deadlock)
        result = self.archive(backend=backend, batch_size=2)
        self.assert_exactly_archived(fixture.EXPECTED_30D)
        self.assertEqual(1, result['retries'])
        self.assertEqual([0.5], self.sleeps)

    def test_oslo_db_errors_are_retried(self):
        backend = CrashingBackend(
            self.engine, crash_at={'write': 1},
            error=db_exc.DBConnectionError(Exception('gone')))
        result = self.archive(backend=backend)
        self.assertEqual(1, result['retries'])
        self.assert_exactly_archived(fixture.EXPECTED_30D)

    def test_gives_up_after_five_retries(self):
        class Always(CrashingBackend):
            def verify(self, *args):
                raise db_exc.DBDeadlock()

        self.assertRaises(db_exc.DBDeadlock, self.archive,
                          backend=Always(self.engine))
        self.assertEqual([0.5, 1, 2, 4, 8], self.sleeps)
        # Nothing archived, nothing lost.
        self.assert_exactly_archived({})

    def test_other_errors_are_not_retried(self):
        backend = CrashingBackend(self.engine, crash_at={'write': 1},
                                  error=ValueError)
        self.assertRaises(ValueError, self.archive, backend=backend)
        self.assertEqual([], self.sleeps)

    def test_retryable(self):
        lost = sa.exc.OperationalError('SELECT 1', {}, Exception(
            'server closed the connection unexpectedly'))
        self.assertTrue(executor.retryable(lost))
        self.assertTrue(executor.retryable(db_exc.DBDeadlock()))
        self.assertFalse(executor.retryable(sa.exc.IntegrityError(
            'INSERT', {}, Exception('UNIQUE constraint failed'))))
        self.assertFalse(executor.retryable(ValueError()))


class TestPacing(ExecutorTestCase):

    def test_pause_between_batches(self):
        self.archive(batch_size=2, pause=3)
        # Two instance batches and four system-metadata ones: five gaps.
        self.assertEqual([3] * 5, self.sleeps)

    def test_rate_limit(self):
        self.archive(batch_size=1, max_rows_per_second=1)
        # Each instance batch moves 1 + 3 + 2 + 2 + 1 rows (the fourth
        # one fixed ip more): nearly that many seconds to wait after it.
        self.assertEqual(4 + 7 - 1, len(self.sleeps))
        self.assertTrue(8 < self.sleeps[0] <= 9, self.sleeps)
        self.assertTrue(9 < self.sleeps[3] <= 10, self.sleeps)

    def test_waits_for_the_window(self):
        timeutils.set_time_override(datetime.datetime(2025, 6, 1, 20, 0))
        self.addCleanup(timeutils.clear_time_override)

        def sleep(seconds):
            self.sleeps.append(seconds)
            timeutils.advance_time_seconds(seconds)
            return False

        self.sleep = sleep
        result = self.archive(window='22:00-04:00')
        self.assertEqual([2 * 3600], self.sleeps)
        self.assertEqual(4, result['tables']['instances']['archived'])

    def test_interrupted_while_waiting(self):
        timeutils.set_time_override(datetime.datetime(2025, 6, 1, 12, 0))
        self.addCleanup(timeutils.clear_time_override)
        self.sleep = lambda seconds: self.sleeps.append(seconds) or True
        result = self.archive(window='22:00-04:00')
        self.assertEqual([10 * 3600], self.sleeps)
        self.assertEqual('partial', result['outcome'])
        self.assertIn('interrupted while waiting (window 22:00-04:00)',
                      result['reason'])
        self.assert_exactly_archived({})


class TestFollowups(ExecutorTestCase):

    def setUp(self):
        super().setUp()
        path = os.path.join(self.tmp, 'nova_api.sqlite')
        self.api_engine = fixture.sqlite_engine(path)
        self.addCleanup(self.api_engine.dispose)
        meta = sa.MetaData()
        sa.Table('instance_mappings', meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('instance_uuid', sa.String(36), unique=True),
                 sa.Column('queued_for_delete', sa.Boolean))
        sa.Table('request_specs', meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('instance_uuid', sa.String(36), unique=True),
                 sa.Column('spec', sa.Text))
        sa.Table('instance_groups', meta,
                 sa.Column('id', sa.Integer, primary_key=True))
        sa.Table('instance_group_member', meta,
                 sa.Column('id', sa.Integer, primary_key=True),
                 sa.Column('group_id', sa.Integer,
                           sa.ForeignKey('instance_groups.id')),
                 sa.Column('instance_uuid', sa.String(36)))
        meta.create_all(self.api_engine)
        with self.api_engine.begin() as conn:
            conn.execute(meta.tables['instance_groups'].insert(), [
                {'id': 1}])
            for n in range(1, 13):
                uuid = 'inst-%04d' % n
                conn.execute(meta.tables['instance_mappings'].insert(), [
                    {'id': n, 'instance_uuid': uuid,
                     'queued_for_delete': n < 10}])
                conn.execute(meta.tables['request_specs'].insert(), [
                    {'id': n, 'instance_uuid': uuid, 'spec': '{"n": %d}' %
                     n}])
            conn.execute(meta.tables['instance_group_member'].insert(), [
                {'id': 1, 'group_id': 1, 'instance_uuid': 'inst-0002'},
                {'id': 2, 'group_id': 1, 'instance_uuid': 'inst-0010'}])
        self.api_tables = ('instance_mappings', 'request_specs',
                           'instance_group_member')
        self.api_before = snapshot(self.api_engine, self.api_tables)
        self.api_graph = schema.reflect(self.api_engine, 'nova_api')

    def archive(self, api_backend=None, **kw):
        api_backend = api_backend or shadow.ShadowBackend(
            engine=self.api_engine)
        self.journal = kw.pop('journal', None) or getattr(
            self, 'journal', None) or purge_journal.MemoryJournal()
        return executor.archive(
            self.engine, self.graph, kw.pop('backend', None) or
            shadow.ShadowBackend(engine=self.engine),
            self.params(**kw), self.journal, sleep=self.sleep,
            now=fixture.NOW,
            api=(self.api_engine, self.api_graph, api_backend))

    def assert_api_archived(self):
        after = snapshot(self.api_engine, self.api_tables)
        gone = {'instance_mappings': {1, 2, 3, 4},
                'request_specs': {1, 2, 3, 4},
                'instance_group_member': {1}}
        for name, ids in gone.items():
            self.assertEqual(set(self.api_before[name]) - ids,
                             set(after[name]), name)
            copies = shadow_rows(self.api_engine, name)
            self.assertEqual(
                purge_rows.digest([self.api_before[name][i] for i in ids],
                                  ['id']),
                purge_rows.digest(copies, ['id']), name)

    def test_api_rows_of_archived_instances_are_archived(self):
        result = self.archive(batch_size=3)
        self.assert_exactly_archived(fixture.EXPECTED_30D)
        self.assert_api_archived()
        self.assertEqual(
            {'instance_mappings': {'archived': 4, 'deleted': 4},
             'request_specs': {'archived': 4, 'deleted': 4},
             'instance_group_member': {'archived': 1, 'deleted': 1}},
            result['followups']['tables'])
        self.assertEqual(['nova_api'],
                         result['followups']['target_profiles'])
        first = list(self.journal.batches())[0]
        self.assertEqual([[1], [2], [3]], first.followup['nova_api'][
            'instance_mappings'])

    def test_killed_between_the_cell_and_the_api_commit(self):
        api_backend = CrashingBackend(self.api_engine,
                                      crash_at={'verify': 1})
        self.assertRaises(Crash, self.archive, api_backend=api_backend,
                          batch_size=3)
        # The cell rows of the first batch are archived and gone; its API
        # rows are still in place.
        pending, = self.journal.pending()
        self.assertEqual(3, len(pending.keys['instances']))
        self.assertEqual([], list(self.journal.batches()))
        self.assertEqual(12, len(snapshot(self.api_engine, [
            'instance_mappings'])['instance_mappings']))
        result = self.archive()
        self.assert_exactly_archived(fixture.EXPECTED_30D)
        self.assert_api_archived()
        self.assertEqual(4, result['followups']['tables'][
            'instance_mappings']['archived'])


class TestSeparateArchiveDatabase(ExecutorTestCase):
    """The protocol with a backend that is not in the source transaction."""

    def setUp(self):
        super().setUp()
        self.url = 'sqlite:///' + os.path.join(self.tmp, 'archive.sqlite')

    def backend(self, cls=database.DatabaseBackend, **kw):
        backend = cls(url=self.url, source_url='sqlite:///' + self.path,
                      **kw)
        self.addCleanup(backend.close)
        return backend

    def archived(self, name):
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                return [dict(r) for r in conn.execute(
                    sa.select(table)).mappings()]
        finally:
            engine.dispose()

    def test_archive_and_crash_after_flush(self):
        class Dying(database.DatabaseBackend):
            flushes = 0

            def flush(self, batch):
                super().flush(batch)
                Dying.flushes += 1
                if Dying.flushes == 2:
                    raise Crash()

        self.assertRaises(Crash, self.archive, backend=self.backend(Dying),
                          batch_size=2)
        # The second batch is in the archive and still in the source.
        result = self.archive(backend=self.backend())
        moved, _ = self.moved()
        self.assertEqual(fixture.EXPECTED_30D,
                         {n: len(r) for n, r in moved.items() if r})
        for name, rows in moved.items():
            if rows:
                self.assertEqual(
                    purge_rows.digest(rows.values(), ['id']),
                    purge_rows.digest(self.archived(name), ['id']), name)
        self.assertEqual(fixture.EXPECTED_30D['instances'],
                         result['tables']['instances']['archived'])


class TestDigest(ExecutorTestCase):

    @staticmethod
    def _plain_digest(rows, pk):
        # The digest by its definition: canonical JSON of plain_row,
        # sorted by key; rows.digest takes shortcuts for common types.
        lines = sorted(
            ([r[c] for c in pk],
             json.dumps(purge_rows.plain_row(r), sort_keys=True,
                        separators=(',', ':'), ensure_ascii=True,
                        default=str).encode('ascii'))
            for r in rows)
        h = hashlib.sha256()
        for _, line in lines:
            h.update(line + b'\n')
        return len(lines), h.hexdigest()

    def test_fast_digest_is_the_plain_definition(self):
        rows = [
            {'id': 1, 's': 'é', 'n': None, 'f': 1.5, 'b': True,
             'd': datetime.datetime(2025, 1, 2, 3, 4, 5, 6),
             't': datetime.date(2025, 1, 2), 'x': b'\x00\xff',
             'm': decimal.Decimal('1.20'), 'i': 10 ** 20},
            {'id': 0, 's': '', 'n': 0, 'f': -0.0, 'b': False,
             'd': datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc),
             't': datetime.time(1, 2), 'x': bytearray(b'ab'),
             'm': decimal.Decimal('0'), 'i': -1},
        ]
        self.assertEqual(self._plain_digest(rows, ['id']),
                         purge_rows.digest(rows, ['id']))
        for name in CELL_TABLES:
            rows = list(self.before[name].values())
            self.assertEqual(self._plain_digest(rows, ['id']),
                             purge_rows.digest(rows, ['id']), name)


class TestOtherProfiles(ExecutorTestCase):
    """Heat's owned rows and cinder's boolean flag, end to end."""

    def _engine(self, name, build):
        engine = fixture.sqlite_engine(os.path.join(self.tmp, name))
        self.addCleanup(engine.dispose)
        meta = sa.MetaData()
        build(meta)
        meta.create_all(engine)
        return engine, meta

    def _archive(self, engine, profile, **data):
        return executor.archive(
            engine, schema.reflect(engine, profile),
            shadow.ShadowBackend(engine=engine), self.params(**data),
            purge_journal.MemoryJournal(), now=fixture.NOW)

    def test_heat_stack_takes_its_resources(self):
        engine, meta = self._engine('heat.sqlite', fixture.define_heat)
        with engine.begin() as conn:
            conn.execute(meta.tables['stack'].insert(), [
                {'id': 's-old', 'deleted_at': fixture.OLD},
                {'id': 's-young', 'deleted_at': fixture.YOUNG},
                {'id': 's-live', 'deleted_at': None}])
            conn.execute(meta.tables['resource'].insert(), [
                {'id': i, 'stack_id': s} for i, s in
                enumerate(('s-old', 's-old', 's-young', 's-live'), 1)])
            conn.execute(meta.tables['resource_data'].insert(), [
                {'id': 1, 'resource_id': 1}, {'id': 2, 'resource_id': 4}])
        result = self._archive(engine, 'heat')
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual({'stack': 1, 'resource': 2, 'resource_data': 1},
                         {n: t['archived']
                          for n, t in result['tables'].items()})
        self.assertEqual(['s-old'], [r['id'] for r in shadow_rows(
            engine, 'stack')])
        # The generic profile knows no ownership: resources hold stacks.
        result = self._archive(engine, 'generic', older_than=0)
        self.assertEqual('partial', result['outcome'])
        self.assertEqual({'stack': 1}, result['left'])
        self.assertIn('1 in resource', result['reason'])

    def test_cinder_boolean_flag(self):
        def build(meta):
            sa.Table('volumes', meta,
                     sa.Column('id', sa.String(36), primary_key=True),
                     sa.Column('deleted', sa.Boolean),
                     sa.Column('deleted_at', sa.DateTime))
            sa.Table('volume_metadata', meta,
                     sa.Column('id', sa.Integer, primary_key=True),
                     sa.Column('volume_id', sa.String(36),
                               sa.ForeignKey('volumes.id')),
                     sa.Column('deleted', sa.Boolean),
                     sa.Column('deleted_at', sa.DateTime))

        engine, meta = self._engine('cinder.sqlite', build)
        with engine.begin() as conn:
            conn.execute(meta.tables['volumes'].insert(), [
                {'id': 'v1', 'deleted': True, 'deleted_at': fixture.OLD},
                {'id': 'v2', 'deleted': False, 'deleted_at': None}])
            conn.execute(meta.tables['volume_metadata'].insert(), [
                {'id': 1, 'volume_id': 'v1', 'deleted': True,
                 'deleted_at': fixture.OLD},
                {'id': 2, 'volume_id': 'v2', 'deleted': True,
                 'deleted_at': fixture.OLD},
                {'id': 3, 'volume_id': 'v2', 'deleted': False,
                 'deleted_at': None}])
        result = self._archive(engine, 'cinder')
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual({'volumes': 1, 'volume_metadata': 2},
                         {n: t['archived']
                          for n, t in result['tables'].items()})
        with engine.connect() as conn:
            self.assertEqual([3], [r[0] for r in conn.execute(sa.text(
                'SELECT id FROM volume_metadata'))])
