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

"""Purge jobs run by real workers on real SQLite targets."""

import datetime
import os

from oslo_utils import timeutils
import sqlalchemy as sa
import webtest

from cryptkeeper.api import app
from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper import conf
from cryptkeeper.purge import journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.worker import jobs
from cryptkeeper.worker.jobs import purge as purge_job

DELETED = 12
LIVE = 4
META_PER_INSTANCE = 2
TABLES = ('instances', 'instance_metadata')


def build_target(path, deleted=DELETED, live=LIVE):
    """A small oslo.db-style schema: instances and their metadata (FK)."""
    engine = sa.create_engine('sqlite:///' + path)
    meta = sa.MetaData()
    instances = sa.Table(
        'instances', meta,
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('project_id', sa.String(36)),
        sa.Column('created_at', sa.DateTime),
        sa.Column('deleted_at', sa.DateTime),
        sa.Column('deleted', sa.Integer, default=0))
    metadata = sa.Table(
        'instance_metadata', meta,
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('instance_uuid', sa.String(36),
                  sa.ForeignKey('instances.uuid'), nullable=False),
        sa.Column('key', sa.String(255)),
        sa.Column('value', sa.String(255)),
        sa.Column('created_at', sa.DateTime),
        sa.Column('deleted_at', sa.DateTime),
        sa.Column('deleted', sa.Integer, default=0))
    meta.create_all(engine)
    now = timeutils.utcnow().replace(microsecond=0)
    inst_rows, meta_rows = [], []
    for i in range(1, deleted + live + 1):
        gone = i <= deleted
        when = now - datetime.timedelta(days=10 + i) if gone else None
        inst_uuid = '00000000-0000-0000-0000-%012d' % i
        inst_rows.append({'id': i, 'uuid': inst_uuid, 'project_id': 'p',
                          'created_at': now - datetime.timedelta(days=400),
                          'deleted_at': when, 'deleted': i if gone else 0})
        for k in range(META_PER_INSTANCE):
            mid = i * 10 + k
            meta_rows.append({'id': mid, 'instance_uuid': inst_uuid,
                              'key': 'k%d' % k, 'value': 'v%d' % mid,
                              'created_at': now, 'deleted_at': when,
                              'deleted': mid if gone else 0})
    with engine.begin() as conn:
        conn.execute(instances.insert(), inst_rows)
        conn.execute(metadata.insert(), meta_rows)
    engine.dispose()


def snapshot(path):
    """{table: (count, sha256)} of every table, shadow tables too."""
    engine = sa.create_engine('sqlite:///' + path)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for name, table in meta.tables.items():
                pk = [c.name for c in table.primary_key.columns]
                found = [dict(r._mapping) for r in
                         conn.execute(table.select())]
                out[name] = purge_rows.digest(found, pk)
        return out
    finally:
        engine.dispose()


def table_rows(path, name):
    engine = sa.create_engine('sqlite:///' + path)
    try:
        with engine.connect() as conn:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            pk = [c.name for c in table.primary_key.columns]
            return [dict(r._mapping) for r in conn.execute(
                table.select().order_by(*[table.c[c] for c in pk]))]
    finally:
        engine.dispose()


def merged(path, name):
    """Rows of a table and its shadow table together, with their digest."""
    both = table_rows(path, name)
    if os.path.exists(path):
        try:
            both += table_rows(path, 'shadow_' + name)
        except sa.exc.NoSuchTableError:
            pass
    return purge_rows.digest(both, ['id'])


class PurgeWorkerTestCase(helpers.WorkerMixin, base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.config(lock_poll=0.1, group='purge')
        self.path = os.path.join(self.conf_fixture.state_path, 'demo.sqlite')
        build_target(self.path)
        self.conf_fixture.set_targets(demo='sqlite:///' + self.path)
        self.before = {name: merged(self.path, name) for name in TABLES}

    def _create(self, params, target='demo'):
        # Normalised as the API stores them.
        params = purge_params.Params.from_dict(params).to_dict()
        return self.dbapi.create_job(
            {'type': 'purge', 'target': target, 'params': params,
             'created_by': 'admin-user', 'project_id': 'admin-project',
             'request_id': 'req-test'},
            records.entry(self.context, 'job.create',
                          details={'params': params}))

    def _archive(self, **params):
        return self._create(dict({'mode': 'archive', 'older_than': 0},
                                 **params))

    def _wait_batches(self, job, n):
        return helpers.wait_for(
            lambda: len(self.dbapi.journal_batches(
                job.uuid, state=journal.DONE)) >= n,
            '%d done batches of job %s' % (n, job.uuid))

    def _soft_deleted_left(self, name):
        return [r for r in table_rows(self.path, name) if r['deleted']]

    def assertNothingLostOrDuplicated(self):
        for name in TABLES:
            self.assertEqual(self.before[name], merged(self.path, name),
                             name)

    def assertArchivedAll(self, tables):
        self.assertEqual(DELETED, tables['instances']['archived'])
        self.assertEqual(DELETED, tables['instances']['deleted'])
        self.assertEqual(DELETED * META_PER_INSTANCE,
                         tables['instance_metadata']['archived'])
        self.assertEqual(DELETED * META_PER_INSTANCE,
                         tables['instance_metadata']['deleted'])
        for name in TABLES:
            self.assertEqual([], self._soft_deleted_left(name))
        self.assertNothingLostOrDuplicated()


class TestPurgeArchive(PurgeWorkerTestCase):

    def test_registered(self):
        self.assertIn('purge', jobs.names())

    def test_archive_end_to_end(self):
        job = self._archive(batch_size=5)
        worker = self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertArchivedAll(job.progress['tables'])
        self.assertEqual(LIVE, len(table_rows(self.path, 'instances')))
        self.assertEqual(job.progress['tables'], job.result['tables'])
        self.assertEqual(worker.worker_id, job.worker)
        batches = self.dbapi.journal_batches(job.uuid)
        self.assertTrue(batches)
        self.assertEqual({journal.DONE}, {b['state'] for b in batches})
        self.assertEqual(DELETED, sum(b['counts'].get('instances', 0)
                                      for b in batches))

        audit = self._audit(job)
        self.assertEqual(['job.create', 'job.start', 'job.finish'],
                         [r.action for r in audit])
        finish = audit[-1]
        self.assertEqual(('success', 'succeeded'),
                         (finish.outcome, finish.details['state']))
        summary = finish.details['summary']
        self.assertEqual(job.params, summary['params'])
        self.assertEqual(job.params, finish.details['params'])
        self.assertEqual(job.result['tables'], summary['tables'])
        self.assertIn('location', summary)
        self.assertIn('checksums', summary)
        self.assertIn('run_seconds', summary['timings'])
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_restore_puts_every_row_back(self):
        original = {name: table_rows(self.path, name) for name in TABLES}
        archived = self._archive(batch_size=5)
        self._start_worker()
        archived = self._wait_state(archived)
        self.assertEqual('succeeded', archived.state, archived.result)
        job = self._create({'mode': 'restore',
                            'restore_job': archived.uuid})
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertEqual(DELETED, job.progress['tables']['instances'][
            'restored'])
        for name in TABLES:
            self.assertEqual(original[name], table_rows(self.path, name))
            self.assertEqual([], table_rows(self.path, 'shadow_' + name))
        self.assertEqual([], self.dbapi.journal_batches(
            archived.uuid, state=journal.DONE))

    def test_purge_mode_expires_archived_rows(self):
        archived = self._archive(batch_size=5)
        self._start_worker()
        self.assertEqual('succeeded', self._wait_state(archived).state)
        kept = self._create({'mode': 'purge', 'retention_days': 365})
        self.assertEqual('succeeded', self._wait_state(kept).state)
        self.assertEqual(DELETED, len(table_rows(self.path,
                                                 'shadow_instances')))
        job = self._create({'mode': 'purge', 'retention_days': 0})
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertEqual(DELETED, job.progress['tables']['instances'][
            'deleted'])
        for name in TABLES:
            self.assertEqual([], table_rows(self.path, 'shadow_' + name))
        self.assertEqual(LIVE, len(table_rows(self.path, 'instances')))

    def test_plan_changes_nothing(self):
        before = snapshot(self.path)
        job = self._create({'mode': 'plan', 'older_than': 0})
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertEqual(DELETED, job.progress['tables']['instances'][
            'planned'])
        self.assertEqual({'planned': DELETED},
                         job.progress['tables']['instances'])
        self.assertEqual(DELETED, job.result['tables']['instances'][
            'planned'])
        self.assertEqual(before, snapshot(self.path))
        self.assertEqual([], self.dbapi.journal_batches(job.uuid))

    def test_unknown_table_fails_with_a_message(self):
        job = self._archive(tables=['no_such_table'])
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('failed', job.state)
        self.assertIn('no_such_table', job.result['error'])
        self.assertNothingLostOrDuplicated()
        self.assertEqual(DELETED, len(self._soft_deleted_left('instances')))

    def test_database_backend_needs_an_archive_connection(self):
        job = self._archive(backend='database')
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('failed', job.state)
        self.assertIn('archive_connection', job.result['error'])
        self.assertEqual(DELETED, len(self._soft_deleted_left('instances')))

    def test_database_backend_secret_is_masked(self):
        self.config(archive_connection='mysql+pymysql://arch:Pa55word9@'
                    '127.0.0.1:1/archive?connect_timeout=1', group='purge')
        job = self._archive(backend='database')
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('failed', job.state)
        self.assertNotIn('Pa55word9', job.result['error'])
        self.assertNotIn('Pa55word9', str(self._audit(job)[-1].reason))
        self.assertEqual(DELETED, len(self._soft_deleted_left('instances')))

    def test_files_backend(self):
        job = self._archive(backend='files', batch_size=7)
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertEqual(DELETED, job.progress['tables']['instances'][
            'deleted'])
        archive = self.conf_fixture.state_path + '/archive'
        self.assertTrue(os.listdir(archive))


class TestPurgeResume(PurgeWorkerTestCase):

    def _slow(self):
        # One instance per batch and a pause after each: the job is
        # certainly mid-archive when the test acts.
        return self._archive(batch_size=1, pause=0.4)

    def test_stopped_worker_job_resumes_with_exact_counts(self):
        job = self._slow()
        first = self._start_worker()
        self._wait_batches(job, 3)
        first.stop()
        left = self._job(job)
        self.assertEqual('running', left.state)
        done_before = len(self.dbapi.journal_batches(job.uuid,
                                                     state=journal.DONE))
        self.assertLess(done_before, DELETED)
        self.assertNothingLostOrDuplicated()
        # The lease runs out and a fresh worker takes the job over.
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual(('succeeded', 2), (job.state, job.attempts),
                         job.result)
        self.assertArchivedAll(job.progress['tables'])
        self.assertEqual(
            list(range(1, DELETED + 1)),
            [b['seq'] for b in self.dbapi.journal_batches(job.uuid)])
        self.assertEqual(['job.create', 'job.start', 'job.takeover',
                          'job.finish'],
                         [r.action for r in self._audit(job)])

    def test_cancel_mid_archive_keeps_exact_counts(self):
        job = self._slow()
        self._start_worker()
        self._wait_batches(job, 2)
        self.dbapi.request_cancel(job.uuid,
                                  records.entry(self.context, 'job.cancel'))
        job = self._wait_state(job)
        self.assertEqual('cancelled', job.state)
        done = self.dbapi.journal_batches(job.uuid, state=journal.DONE)
        self.assertEqual([], self.dbapi.journal_batches(
            job.uuid, state=journal.PREPARED))
        moved = sum(b['counts'].get('instances', 0) for b in done)
        self.assertEqual(moved, job.progress['tables']['instances'][
            'deleted'])
        self.assertEqual(DELETED - moved,
                         len(self._soft_deleted_left('instances')))
        self.assertNothingLostOrDuplicated()
        finish = self._audit(job)[-1]
        self.assertEqual(('job.finish', 'failure', 'cancelled'),
                         (finish.action, finish.outcome,
                          finish.details['state']))
        self.assertEqual(job.progress, finish.details['progress'])

    def test_lost_lease_stops_writes(self):
        job = self._slow()
        worker = self._start_worker()
        self._wait_batches(job, 2)
        helpers.steal(self.dbapi, job)
        helpers.wait_for(lambda: worker._current is None,
                         'the worker to let go of the job')
        frozen = self.dbapi.journal_batches(job.uuid)
        self.assertEqual(frozen, self.dbapi.journal_batches(job.uuid))
        self.assertEqual(('running', 'thief'),
                         (self._job(job).state, self._job(job).worker))
        # What the source lost is exactly what the journal says is done.
        done = [b for b in frozen if b['state'] == journal.DONE]
        moved = sum(b['counts'].get('instances', 0) for b in done)
        self.assertEqual(DELETED - moved,
                         len(self._soft_deleted_left('instances')))
        self.assertNothingLostOrDuplicated()


class TestPurgeLock(PurgeWorkerTestCase):

    def test_two_jobs_on_one_target_never_overlap(self):
        # Slow enough that the holder is still at work while the test
        # looks at the waiter and at the lock.
        one = self._archive(batch_size=1, pause=0.5)
        two = self._archive(batch_size=1, pause=0.5)
        self._start_worker()
        self._start_worker()
        waited = helpers.wait_for(
            lambda: next((j for j in (self._job(one), self._job(two))
                          if ((j.progress or {}).get(purge_job.WAITING)
                              or {}).get('job')),
                         None),
            'one job to say it waits for the other')
        holder = one if waited.uuid == two.uuid else two
        self.assertEqual({'lock': 'purge-demo', 'target': 'demo',
                          'job': holder.uuid},
                         waited.progress[purge_job.WAITING])
        self.assertEqual('running', waited.state)
        # The lock really is held across processes meanwhile.
        proc, got = helpers.lock_in_subprocess(
            conf.CONF.coordination.backend_url, 'purge-demo')
        helpers.release_subprocess(proc)
        self.assertEqual('busy', got)
        first, second = self._wait_state(holder), self._wait_state(waited)
        self.assertEqual(('succeeded', 'succeeded'),
                         (first.state, second.state))
        # Had they overlapped they would have shared the rows; the one
        # that waited found nothing left.
        self.assertArchivedAll(first.progress['tables'])
        self.assertEqual(0, sum(t['deleted'] for t in
                                second.progress['tables'].values()))
        self.assertEqual([], self.dbapi.journal_batches(second.uuid))

    def test_plan_does_not_wait_for_an_archive(self):
        archive = self._archive(batch_size=1, pause=0.2)
        self._start_worker()
        self._wait_batches(archive, 1)
        plan = self._create({'mode': 'plan', 'older_than': 0})
        self._start_worker()
        plan = self._wait_state(plan)
        self.assertEqual('succeeded', plan.state, plan.result)
        self.assertEqual('running', self._job(archive).state)


class PartialJob(jobs.JobType):
    name = 'test-partial'

    def run(self, job, progress):
        progress.update(tables={'t': {'deleted': 1}})
        return {'outcome': 'partial', 'reason': '2 rows kept back by an '
                'FK conflict', 'tables': {'t': {'deleted': 1}}}

    def summary(self, result):
        return {'tables': result['tables']}


class TestPartial(PurgeWorkerTestCase):

    def test_partial_outcome_ends_partial(self):
        helpers.register(self, PartialJob())
        job = self.dbapi.create_job(
            {'type': PartialJob.name, 'target': 'demo'},
            records.entry(self.context, 'job.create'))
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('partial', job.state)
        self.assertEqual('2 rows kept back by an FK conflict',
                         job.result['reason'])
        finish = self._audit(job)[-1]
        self.assertEqual(('job.finish', 'failure', 'partial'),
                         (finish.action, finish.outcome,
                          finish.details['state']))
        self.assertEqual('2 rows kept back by an FK conflict', finish.reason)
        self.assertEqual({'tables': {'t': {'deleted': 1}}},
                         finish.details['summary'])


class TestPurgeNovaTargets(PurgeWorkerTestCase):

    def setUp(self):
        super().setUp()
        self.api_path = os.path.join(self.conf_fixture.state_path,
                                     'api.sqlite')
        engine = sa.create_engine('sqlite:///' + self.api_path)
        meta = sa.MetaData()
        mappings = sa.Table(
            'cell_mappings', meta,
            sa.Column('id', sa.Integer, primary_key=True),
            sa.Column('uuid', sa.String(36), nullable=False),
            sa.Column('name', sa.String(255)),
            sa.Column('transport_url', sa.Text),
            sa.Column('database_connection', sa.Text))
        meta.create_all(engine)
        # The same file as the nova target, spelt another way.
        same = 'sqlite:///%s/./%s' % os.path.split(self.path)
        with engine.begin() as conn:
            conn.execute(mappings.insert(), [
                {'id': 1, 'uuid': 'c0', 'name': 'cell0',
                 'database_connection': 'mysql+pymysql://nova:CellPa55@'
                                        'db0.example/nova_cell0'},
                {'id': 2, 'uuid': 'c1', 'name': 'cell1',
                 'database_connection': same},
                {'id': 3, 'uuid': 'c2', 'name': 'cell2',
                 'database_connection': '{scheme}://{username}:{password}'
                                        '@{hostname}/nova'}])
        engine.dispose()
        self.conf_fixture.set_targets(
            nova=('nova', 'sqlite:///' + self.path),
            nova_api=('nova_api', 'sqlite:///' + self.api_path))

    def test_fixed_interface_through_the_api(self):
        api = webtest.TestApp(app.setup_app('noauth'))
        made = api.post_json('/v1/jobs', {
            'type': 'purge', 'target': 'nova', 'mode': 'archive',
            'older_than': 0}, status=202).json
        self._start_worker()
        helpers.wait_for(
            lambda: api.get('/v1/jobs/%s' % made['id']).json['state'] in
            ('succeeded', 'partial', 'failed', 'cancelled'),
            'the job to finish')
        shown = api.get('/v1/jobs/%s' % made['id']).json
        self.assertEqual('succeeded', shown['state'], shown['result'])
        self.assertArchivedAll(shown['progress']['tables'])
        for name in TABLES:
            self.assertEqual(len(table_rows(self.path, 'shadow_' + name)),
                             shown['progress']['tables'][name]['archived'])

    def test_nova_without_api_target_says_followups_skipped(self):
        job = self._create({'mode': 'archive', 'older_than': 0},
                           target='nova')
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertIn('skipped', job.result['followups'])
        self.assertIn('api_target', job.result['followups']['skipped'])
        self.assertArchivedAll(job.progress['tables'])

    def test_cells_all_fans_out_and_reports_unmatched_cells(self):
        self.config(group='target:nova', api_target='nova_api')
        job = self._create({'mode': 'archive', 'older_than': 0,
                            'cells': 'all'}, target='nova_api')
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('partial', job.state, job.result)
        self.assertEqual(['cell1'], sorted(job.result['cells']))
        self.assertEqual('nova', job.result['cells']['cell1']['target'])
        self.assertArchivedAll(job.progress['cells']['cell1']['tables'])
        self.assertArchivedAll(job.progress['tables'])
        unmatched = {u['cell']: u for u in job.result['unmatched']}
        self.assertEqual(['cell0', 'cell2'], sorted(unmatched))
        self.assertIn('no configured nova target',
                      unmatched['cell0']['reason'])
        self.assertNotIn('CellPa55', str(job.result))
        self.assertIn('cell0', job.result['reason'])
        finish = self._audit(job)[-1]
        self.assertEqual(('failure', 'partial'),
                         (finish.outcome, finish.details['state']))
        self.assertIn('cell2', finish.reason)
        # The batches are kept per cell target.
        self.assertEqual({'nova'}, {b['scope'] for b in
                                    self.dbapi.journal_batches(job.uuid)})

    def test_cells_plan_needs_no_lock_and_writes_nothing(self):
        self.config(group='target:nova', api_target='nova_api')
        before = snapshot(self.path)
        job = self._create({'mode': 'plan', 'older_than': 0,
                            'cells': 'all'}, target='nova_api')
        self._start_worker()
        job = self._wait_state(job)
        self.assertEqual('partial', job.state, job.result)
        self.assertEqual(DELETED, job.progress['cells']['cell1']['tables'][
            'instances']['planned'])
        self.assertEqual(before, snapshot(self.path))
