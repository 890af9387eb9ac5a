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

"""The scheduler on SQLite: fires due schedules once, as the API would."""

import datetime
import threading

from oslo_utils import timeutils

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.purge import params as purge_params
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.worker import scheduler

# A Sunday, 10:17 UTC.
NOW = datetime.datetime(2026, 11, 22, 10, 17, 5)


class _Ctx:
    pass


class SchedulerTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture.set_targets(
            demo='sqlite:////tmp/demo.sqlite',
            nova=('nova', 'mysql+pymysql://nova:s3cret@db.example/nova'))

    def _create(self, name='nightly', cron='30 2 * * *', target='nova',
                params=None, next_run_at=NOW, **kw):
        values = {'name': name, 'cron': cron, 'enabled': True,
                  'job_type': 'purge', 'target': target,
                  'params': ({'mode': 'archive', 'older_than': 90}
                             if params is None else params),
                  'next_run_at': next_run_at, 'created_by': 'alice',
                  'project_id': 'admin-project'}
        values.update(kw)
        return self.dbapi.create_schedule(
            values, records.entry(self.context, 'schedule.create'))

    def _jobs(self):
        with sqla_api.main_context.reader.using(_Ctx()) as session:
            return session.query(models.Job).order_by(models.Job.id).all()

    def _actions(self, resource_id):
        return list(self.dbapi.list_audit(
            filters={'resource_id': resource_id}))


class FireTestCase(SchedulerTestCase):

    def test_due_schedule_creates_the_job_post_would(self):
        made = self._create(params={'mode': 'archive', 'older_than': 90,
                                    'tables': ['instances']})
        [job] = scheduler.fire_due_schedules(self.dbapi, 'w1', now=NOW)
        expected = purge_params.Params.from_dict(
            {'mode': 'archive', 'older_than': 90, 'tables': ['instances']},
            now=NOW).to_dict()
        self.assertEqual(('purge', 'nova', 'pending', expected, 'alice',
                          'admin-project'),
                         (job.type, job.target, job.state, job.params,
                          job.created_by, job.project_id))
        self.assertTrue(job.request_id.startswith('req-'))
        got = self.dbapi.get_schedule(made.uuid)
        self.assertEqual((datetime.datetime(2026, 11, 23, 2, 30), NOW,
                          job.uuid),
                         (got.next_run_at, got.last_run_at,
                          got.last_job_id))

        [create] = self._actions(job.uuid)
        self.assertEqual(('job.create', 'alice', job.request_id, 'success'),
                         (create.action, create.user_id, create.request_id,
                          create.outcome))
        self.assertEqual({'type': 'purge', 'target': 'nova',
                          'params': expected, 'schedule_id': made.uuid},
                         create.details)
        fire = self._actions(made.uuid)[-1]
        self.assertEqual(('schedule.fire', 'success', job.request_id),
                         (fire.action, fire.outcome, fire.request_id))
        self.assertEqual({'schedule': 'nightly', 'worker': 'w1',
                          'due_at': '2026-11-22T10:17:05Z',
                          'next_run_at': '2026-11-23T02:30:00Z',
                          'job_id': job.uuid}, fire.details)
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_nothing_due_nothing_fired(self):
        self._create(next_run_at=NOW + datetime.timedelta(seconds=1))
        self._create(name='off', enabled=False,
                     next_run_at=NOW - datetime.timedelta(days=1))
        self.assertEqual([], scheduler.fire_due_schedules(self.dbapi, 'w1',
                                                          now=NOW))
        self.assertEqual([], self._jobs())

    def test_missed_runs_fire_once(self):
        # Due every 10 minutes, and every worker was down for three days:
        # one job, not 432, and the next run counts from now.
        made = self._create(cron='*/10 * * * *',
                            next_run_at=NOW - datetime.timedelta(days=3))
        self.assertEqual(1, len(scheduler.fire_due_schedules(
            self.dbapi, 'w1', now=NOW)))
        self.assertEqual([], scheduler.fire_due_schedules(self.dbapi, 'w1',
                                                          now=NOW))
        self.assertEqual(datetime.datetime(2026, 11, 22, 10, 20),
                         self.dbapi.get_schedule(made.uuid).next_run_at)
        later = datetime.datetime(2026, 11, 22, 10, 20, 1)
        self.assertEqual(1, len(scheduler.fire_due_schedules(
            self.dbapi, 'w1', now=later)))
        self.assertEqual(2, len(self._jobs()))

    def test_a_worker_holding_a_stale_row_loses(self):
        made = self._create()
        [stale] = self.dbapi.due_schedules(NOW)
        self.assertIsNotNone(scheduler.fire_one(self.dbapi, stale, NOW, 'a'))
        self.assertIsNone(scheduler.fire_one(self.dbapi, stale, NOW, 'b'))
        self.assertEqual(1, len(self._jobs()))
        fires = [r for r in self._actions(made.uuid)
                 if r.action == 'schedule.fire']
        self.assertEqual(['a'], [r.details['worker'] for r in fires])

    def test_threads_racing_fire_each_due_time_once(self):
        schedules = [self._create(name='s%d' % i) for i in range(10)]
        barrier = threading.Barrier(3)
        made = {}

        def race(worker):
            barrier.wait()
            made[worker] = scheduler.fire_due_schedules(self.dbapi, worker,
                                                        now=NOW)

        threads = [threading.Thread(target=race, args=('w%d' % i,))
                   for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(helpers.WAIT)
        self.assertEqual(10, sum(len(jobs) for jobs in made.values()))
        jobs = self._jobs()
        self.assertEqual(10, len(jobs))
        for schedule in schedules:
            got = self.dbapi.get_schedule(schedule.uuid)
            fires = [r for r in self._actions(schedule.uuid)
                     if r.action == 'schedule.fire']
            self.assertEqual(1, len(fires), schedule.name)
            self.assertEqual(got.last_job_id, fires[0].details['job_id'])
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_target_gone_from_config_is_a_recorded_failure(self):
        made = self._create()
        self.conf_fixture.set_targets(demo='sqlite:////tmp/demo.sqlite')
        self.assertEqual([], scheduler.fire_due_schedules(self.dbapi, 'w1',
                                                          now=NOW))
        self.assertEqual([], self._jobs())
        got = self.dbapi.get_schedule(made.uuid)
        # It does not fire again at once: the next due time is tomorrow.
        self.assertEqual(datetime.datetime(2026, 11, 23, 2, 30),
                         got.next_run_at)
        fire = self._actions(made.uuid)[-1]
        self.assertEqual(('schedule.fire', 'failure', None),
                         (fire.action, fire.outcome,
                          fire.details['job_id']))
        self.assertIn('target nova is no longer configured', fire.reason)

    def test_params_that_no_longer_validate_are_a_recorded_failure(self):
        made = self._create(params={'batch_size': 0})
        self.assertEqual([], scheduler.fire_due_schedules(self.dbapi, 'w1',
                                                          now=NOW))
        fire = self._actions(made.uuid)[-1]
        self.assertEqual('failure', fire.outcome)
        self.assertIn('batch_size', fire.reason)

    def test_unparsable_cron_stops_the_schedule(self):
        made = self._create(cron='not a cron')
        self.assertEqual([], scheduler.fire_due_schedules(self.dbapi, 'w1',
                                                          now=NOW))
        self.assertIsNone(self.dbapi.get_schedule(made.uuid).next_run_at)
        fire = self._actions(made.uuid)[-1]
        self.assertEqual('failure', fire.outcome)
        self.assertIn('cron:', fire.reason)
        self.assertEqual([], self.dbapi.due_schedules(NOW))

    def test_one_broken_schedule_does_not_stop_the_others(self):
        broken = self._create(name='a', next_run_at=NOW - datetime.timedelta(
            minutes=2))
        good = self._create(name='b')
        real = self.dbapi.fire_schedule
        calls = []

        def flaky(schedule_id, *args, **kw):
            calls.append(schedule_id)
            if len(calls) == 1:
                raise RuntimeError('database hiccup')
            return real(schedule_id, *args, **kw)

        self.dbapi.fire_schedule = flaky
        self.addCleanup(delattr, self.dbapi, 'fire_schedule')
        [job] = scheduler.fire_due_schedules(self.dbapi, 'w1', now=NOW)
        self.assertEqual(job.uuid,
                         self.dbapi.get_schedule(good.uuid).last_job_id)
        # Left due, for the next poll to try again.
        self.assertEqual([broken.uuid], [
            s.uuid for s in self.dbapi.due_schedules(NOW)])


class WorkerServiceTestCase(helpers.WorkerMixin, SchedulerTestCase):
    """The worker's own loop fires a due schedule."""

    def setUp(self):
        super().setUp()
        helpers.demo_target(self)

    def test_worker_fires_due_schedule(self):
        made = self._create(target='demo', params={'mode': 'plan'},
                            cron='0 0 1 1 *',
                            next_run_at=timeutils.utcnow() -
                            datetime.timedelta(minutes=1))
        worker = self._start_worker()
        got = helpers.wait_for(
            lambda: (lambda s: s if s.last_job_id else None)(
                self.dbapi.get_schedule(made.uuid)),
            'the worker to fire the schedule')
        job = self.dbapi.get_job(got.last_job_id)
        self.assertEqual(('purge', 'demo', 'alice'),
                         (job.type, job.target, job.created_by))
        self.assertEqual(1, got.next_run_at.month)
        self.assertEqual(1, got.next_run_at.day)
        worker.stop()
        self.assertEqual(1, len(self._jobs()))
