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

"""Several schedulers on MariaDB and PostgreSQL: each due time fires once.

Threads race on the same due rows behind a barrier, and real worker
processes start together on the same due schedules; either way every
due time creates exactly one job and one ``schedule.fire`` record.
"""

import datetime
import os
import signal
import threading

from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.functional import db_base
from cryptkeeper.tests.functional import workers
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.tests.unit.worker import target_schema
from cryptkeeper.worker import scheduler

SCHEDULES = 12
WORKERS = 3
# A Sunday, 10:17 UTC.
NOW = datetime.datetime(2026, 11, 22, 10, 17, 5)


class _Ctx:
    pass


class _Firing(workers.WorkerProcessMixin):

    def setUp(self):
        super().setUp()
        target = os.path.join(self.state, 'demo.sqlite')
        engine = sa.create_engine('sqlite:///' + target)
        target_schema.build(engine, now=timeutils.utcnow())
        engine.dispose()
        self.target_url = 'sqlite:///' + target
        self.conf_fixture.set_targets(demo=self.target_url)

    def _create(self, count, cron, next_run_at):
        return [self.dbapi.create_schedule(
            {'name': 'sched-%02d' % i, 'cron': cron, 'enabled': True,
             'job_type': 'purge', 'target': 'demo',
             'params': {'mode': 'plan', 'older_than': 30},
             'next_run_at': next_run_at, 'created_by': 'admin-user',
             'project_id': 'admin-project'},
            records.entry(self.context, 'schedule.create'))
            for i in range(count)]

    def _jobs(self):
        with sqla_api.main_context.reader.using(_Ctx()) as session:
            return session.query(models.Job).all()

    def _fires(self, schedule):
        return [r for r in self.dbapi.list_audit(
            filters={'resource_id': schedule.uuid}, limit=1000)
            if r.action == 'schedule.fire']

    def test_racing_threads_fire_each_due_time_once(self):
        schedules = self._create(SCHEDULES, '* * * * *', NOW)
        rounds = 3
        made = []
        errors = []
        lock = threading.Lock()

        def race(worker, now, barrier):
            try:
                barrier.wait()
                jobs = scheduler.fire_due_schedules(self.dbapi, worker,
                                                    now=now)
                with lock:
                    made.extend(jobs)
            except Exception as exc:
                errors.append(exc)

        for n in range(rounds):
            now = NOW + datetime.timedelta(minutes=n)
            barrier = threading.Barrier(WORKERS)
            threads = [threading.Thread(target=race,
                                        args=('w%d' % i, now, barrier))
                       for i in range(WORKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(helpers.WAIT)
            self.assertEqual([], errors)
            self.assertEqual(SCHEDULES * (n + 1), len(made), 'round %d' % n)

        jobs = self._jobs()
        self.assertEqual(SCHEDULES * rounds, len(jobs))
        self.assertEqual(len(jobs), len({j.uuid for j in jobs}))
        for schedule in schedules:
            fires = self._fires(schedule)
            self.assertEqual(['success'] * rounds,
                             [r.outcome for r in fires], schedule.name)
            # One fire per due time, whichever worker won it.
            self.assertEqual(['2026-11-22T10:17:05Z', '2026-11-22T10:18:00Z',
                              '2026-11-22T10:19:00Z'],
                             [r.details['due_at'] for r in fires])
            got = self.dbapi.get_schedule(schedule.uuid)
            self.assertEqual(NOW.replace(second=0) +
                             datetime.timedelta(minutes=rounds),
                             got.next_run_at)
            self.assertEqual(fires[-1].details['job_id'], got.last_job_id)
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_worker_processes_fire_each_schedule_once(self):
        # Due a minute ago, then not again until next year: every fire
        # beyond one per schedule would be a duplicate.
        due = timeutils.utcnow().replace(microsecond=0) - \
            datetime.timedelta(minutes=1)
        schedules = self._create(SCHEDULES, '0 0 1 1 *', due)
        self._write_worker_config(
            {'demo': ('generic', self.target_url, None)})
        procs = [self._start_worker(n) for n in range(WORKERS)]

        def all_fired():
            return all(self.dbapi.get_schedule(s.uuid).last_job_id
                       for s in schedules)
        helpers.wait_for(all_fired, 'every schedule to fire')
        # Stop every worker before counting, so a late attempt by any of
        # them is counted too.
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        self.assertEqual([0] * WORKERS,
                         [p.wait(helpers.WAIT) for p in procs])

        jobs = self._jobs()
        self.assertEqual(SCHEDULES, len(jobs))
        next_year = datetime.datetime(due.year + 1, 1, 1)
        for schedule in schedules:
            got = self.dbapi.get_schedule(schedule.uuid)
            [fire] = self._fires(schedule)
            self.assertEqual(('success', got.last_job_id),
                             (fire.outcome, fire.details['job_id']))
            self.assertEqual(next_year, got.next_run_at)
            job = self.dbapi.get_job(got.last_job_id)
            self.assertEqual(('purge', 'demo', 'admin-user'),
                             (job.type, job.target, job.created_by))
        workers = {self._fires(s)[0].details['worker'] for s in schedules}
        self.assertLessEqual(len(workers), WORKERS)
        self.assertTrue(verify.verify(self.dbapi)['valid'])


class TestFiringMySQL(db_base.MySQLMixin, _Firing,
                      db_base.OpportunisticTestCase):
    pass


class TestFiringPostgreSQL(db_base.PostgreSQLMixin, _Firing,
                           db_base.OpportunisticTestCase):
    pass
