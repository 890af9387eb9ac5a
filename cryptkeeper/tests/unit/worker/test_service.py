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

"""The worker end to end on SQLite: census, cancel, failure, lost lease."""

import logging
import os

import fixtures

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.worker import progress as ck_progress
from cryptkeeper.worker import service


class WorkerTestCase(helpers.WorkerMixin, base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.expected = helpers.demo_target(self)

    def _create(self, job_type='census', target='demo'):
        return self.dbapi.create_job(
            {'type': job_type, 'target': target, 'created_by': 'admin-user',
             'project_id': 'admin-project', 'request_id': 'req-test'},
            records.entry(self.context, 'job.create'))


class TestWorkerCensus(WorkerTestCase):

    def test_worker_id_is_unique_per_worker(self):
        one, two = service.Worker(host='h'), service.Worker(host='h')
        self.assertNotEqual(one.worker_id, two.worker_id)
        self.assertTrue(one.worker_id.startswith('h:%d:' % os.getpid()))

    def test_census_end_to_end(self):
        job = self._create()
        worker = self._start_worker()
        job = self._wait_state(job, 'succeeded', 'failed', 'cancelled')
        self.assertEqual('succeeded', job.state, job.result)
        got = {t['name']: (t['rows'], t['soft_deleted'], t['age_buckets'],
                           t['soft_delete_column'])
               for t in job.result['tables']}
        self.assertEqual(self.expected, got)
        self.assertEqual(('demo', 'generic'),
                         (job.result['target'], job.result['profile']))
        self.assertEqual({'tables_total': 5, 'tables_done': 5,
                          'current_table': None}, job.progress)
        self.assertEqual((worker.worker_id, 1), (job.worker, job.attempts))

        audit = self._audit(job)
        self.assertEqual(['job.create', 'job.start', 'job.finish'],
                         [r.action for r in audit])
        for rec in audit:
            self.assertEqual(('admin-user', 'admin-project', 'req-test'),
                             (rec.user_id, rec.project_id, rec.request_id))
        finish = audit[-1]
        self.assertEqual('success', finish.outcome)
        self.assertEqual('succeeded', finish.details['state'])
        self.assertEqual(worker.worker_id, finish.details['worker'])
        self.assertEqual(33, finish.details['summary']['soft_deleted'])
        self.assertIn('duration_seconds', finish.details)
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_census_of_missing_target_file_fails_safely(self):
        self.conf_fixture.set_targets(
            gone='sqlite:///' + os.path.join(self.conf_fixture.state_path,
                                             'nope.sqlite'))
        job = self._create(target='gone')
        self._start_worker()
        job = self._wait_state(job, 'succeeded', 'failed')
        self.assertEqual('failed', job.state)
        self.assertIn('does not exist', job.result['error'])
        self.assertFalse(os.path.exists(os.path.join(
            self.conf_fixture.state_path, 'nope.sqlite')))
        finish = self._audit(job)[-1]
        self.assertEqual(('job.finish', 'failure'),
                         (finish.action, finish.outcome))

    def test_target_loop_records_reachability(self):
        self._start_worker()
        state = helpers.wait_for(
            lambda: self.dbapi.get_target_states().get('demo'),
            'the target check')
        self.assertTrue(state.reachable)
        self.assertIsNone(state.error)


class TestWorkerControl(WorkerTestCase):

    def test_cancel_while_running(self):
        blocking = helpers.BlockingJob()
        helpers.register(self, blocking)
        job = self._create(job_type=blocking.name)
        self._start_worker()
        self.assertTrue(blocking.started.wait(helpers.WAIT))
        self.dbapi.request_cancel(job.uuid,
                                  records.entry(self.context, 'job.cancel'))
        job = self._wait_state(job, 'cancelled', 'succeeded', 'failed')
        self.assertEqual('cancelled', job.state)
        self.assertEqual(ck_progress.Progress.CANCELLED, blocking.reason)
        self.assertGreater(job.progress['steps'], 0)
        actions = [(r.action, r.outcome) for r in self._audit(job)]
        self.assertEqual([('job.create', 'success'),
                          ('job.start', 'success'),
                          ('job.cancel', 'success'),
                          ('job.finish', 'failure')], actions)
        self.assertEqual('cancelled',
                         self._audit(job)[-1].details['state'])

    def test_runner_exception_fails_without_secrets(self):
        logs = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        helpers.register(self, helpers.FailingJob())
        job = self._create(job_type=helpers.FailingJob.name)
        self._start_worker()
        job = self._wait_state(job, 'failed', 'succeeded')
        error = job.result['error']
        self.assertIn('cannot reach', error)
        self.assertIn('db.example.org', error)
        self.assertNotIn('TopSecret42', error)
        finish = self._audit(job)[-1]
        self.assertEqual(('job.finish', 'failure', error),
                         (finish.action, finish.outcome, finish.reason))
        self.assertEqual({'step': 'connect'}, finish.details['progress'])
        self.assertIn('cannot reach', logs.output)
        self.assertNotIn('TopSecret42', logs.output)

    def _lease_lost_case(self, blocking):
        helpers.register(self, blocking)
        job = self._create(job_type=blocking.name)
        worker = self._start_worker()
        self.assertTrue(blocking.started.wait(helpers.WAIT))
        old = self.dbapi.get_job(job.uuid)
        self.assertEqual(worker.worker_id, old.worker)
        stolen = helpers.steal(self.dbapi, job)
        self.assertTrue(blocking.interrupted.wait(helpers.WAIT))
        self.assertEqual(ck_progress.Progress.LEASE_LOST, blocking.reason)
        # The worker goes back to polling: its job loop is free again.
        helpers.wait_for(lambda: worker._current is None,
                         'the worker to let go of the job')
        after = self.dbapi.get_job(job.uuid)
        self.assertEqual(('running', 'thief', stolen.lease_version),
                         (after.state, after.worker, after.lease_version))
        self.assertIsNone(after.finished_at)
        self.assertFalse(after.result)
        actions = [r.action for r in self._audit(job)]
        self.assertEqual(['job.create', 'job.start', 'job.takeover'],
                         actions)
        self.assertEqual(old.worker,
                         self._audit(job)[-1].details['previous_worker'])

    def test_lease_lost_stops_runner_and_writes(self):
        self._lease_lost_case(helpers.BlockingJob())

    def test_lease_lost_runner_that_finishes_anyway_writes_nothing(self):
        self._lease_lost_case(helpers.BlockingJob(finish_anyway=True))

    def test_stop_leaves_job_leased_for_takeover(self):
        blocking = helpers.BlockingJob()
        helpers.register(self, blocking)
        job = self._create(job_type=blocking.name)
        worker = self._start_worker()
        self.assertTrue(blocking.started.wait(helpers.WAIT))
        worker.stop()
        self.assertEqual(ck_progress.Progress.SHUTDOWN, blocking.reason)
        left = self.dbapi.get_job(job.uuid)
        self.assertEqual(('running', worker.worker_id),
                         (left.state, left.worker))
        self.assertEqual(['job.create', 'job.start'],
                         [r.action for r in self._audit(job)])
        # Once the lease is out, another worker takes it over.
        stolen = helpers.steal(self.dbapi, job)
        self.assertEqual(2, stolen.attempts)
