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

"""Real worker processes on MariaDB and PostgreSQL: kill -9, takeover, races.

The job that must still be running when its worker is killed is an
ordinary census. What keeps it running is the target, not test code in
the worker: the test holds a table lock on the target (as a backup or a
DDL would in production), so the census waits on that table, heartbeat
going, until the test lets go.
"""

import signal

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.common import exception
from cryptkeeper.purge import census
from cryptkeeper.tests.functional import db_base
from cryptkeeper.tests.functional import workers
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.tests.unit.worker import target_schema

LOCKED_TABLE = 'stack'
READS = ('SELECT', 'SHOW', 'SET', 'START TRANSACTION', 'DESCRIBE')


class _WorkerProcesses(workers.WorkerProcessMixin):
    """Shared set-up: cryptkeeper's schema, a target database, config."""

    def setUp(self):
        super().setUp()
        self.target_url = self._create_target_database()
        target = sa.create_engine(self.target_url)
        self.expected = target_schema.build(target, extra_tables=3,
                                            now=timeutils.utcnow())
        target.dispose()
        self._write_worker_config(
            {'demo': ('generic', self.target_url, None)})

    def _create_target_database(self):
        name = 'ck_tgt_%s' % uuidutils.generate_uuid(dashed=False)[:10]
        with self._admin().connect() as conn:
            conn.exec_driver_sql('CREATE DATABASE %s' % name)
        self.addCleanup(self._drop_database, name)
        return self.engine.url.set(database=name).render_as_string(
            hide_password=False)

    def _drop_database(self, name):
        with self._admin().connect() as conn:
            if self.engine.dialect.name == 'postgresql':
                conn.exec_driver_sql('DROP DATABASE IF EXISTS %s WITH '
                                     '(FORCE)' % name)
            else:
                conn.exec_driver_sql('DROP DATABASE IF EXISTS %s' % name)

    def _create_jobs(self, count):
        ctx = self.context
        return [self.dbapi.create_job(
            {'type': 'census', 'target': 'demo', 'created_by': ctx.user_id,
             'project_id': ctx.project_id, 'request_id': ctx.request_id},
            records.entry(ctx, 'job.create')) for _ in range(count)]

    def _assert_census(self, result):
        got = {t['name']: (t['rows'], t['soft_deleted'], t['age_buckets'],
                           t['soft_delete_column'])
               for t in result['tables']}
        self.assertEqual(self.expected, got)

    # Tests

    def _hold_table_lock(self):
        """Block readers of one target table until the returned call."""
        target = sa.create_engine(self.target_url)
        conn = target.connect()
        if self.engine.dialect.name == 'postgresql':
            conn.exec_driver_sql('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE'
                                 % LOCKED_TABLE)
        else:
            conn.exec_driver_sql('LOCK TABLES %s WRITE' % LOCKED_TABLE)

        def release():
            if self.engine.dialect.name != 'postgresql':
                conn.exec_driver_sql('UNLOCK TABLES')
            conn.rollback()
            conn.close()
            target.dispose()
        return release

    def test_killed_worker_job_is_taken_over(self):
        release = self._hold_table_lock()
        released = False
        try:
            [job] = self._create_jobs(1)
            first = self._start_worker(1)
            # The census reached the locked table and waits there while
            # its heartbeat keeps publishing progress.
            running = helpers.wait_for(
                lambda: (lambda j: j if j.state == 'running' and
                         (j.progress or {}).get('current_table') ==
                         LOCKED_TABLE else None)(self._job(job)),
                'the census to wait on the locked table')
            self.assertEqual(6, running.progress['tables_done'])
            dead_worker, dead_version = running.worker, running.lease_version
            first.send_signal(signal.SIGKILL)
            first.wait(helpers.WAIT)
            release()
            released = True
        finally:
            if not released:
                release()

        second = self._start_worker(2)
        done = helpers.wait_for(
            lambda: (lambda j: j if j.state in ('succeeded', 'failed')
                     else None)(self._job(job)),
            'the job to finish on the second worker')
        self.assertEqual('succeeded', done.state, done.result)
        self._assert_census(done.result)
        self.assertEqual(2, done.attempts)
        self.assertNotEqual(dead_worker, done.worker)
        self.assertGreater(done.lease_version, dead_version)

        audit = self._actions(job)
        self.assertEqual(['job.create', 'job.start', 'job.takeover',
                          'job.finish'], [r.action for r in audit])
        takeover = audit[2]
        self.assertEqual(dead_worker, takeover.details['previous_worker'])
        self.assertIn(dead_worker, takeover.reason)
        self.assertEqual(done.worker, audit[3].details['worker'])
        self.assertEqual(2, audit[3].details['attempt'])

        # The killed worker's lease is fenced: nothing it could still
        # send is accepted.
        self.assertRaises(exception.LeaseLost, self.dbapi.renew_lease,
                          done.id, dead_worker, dead_version, 5)
        self.assertRaises(exception.LeaseLost, self.dbapi.finish_job,
                          done.id, dead_worker, dead_version, 'failed',
                          {}, {}, records.entry(None, 'job.finish'))
        self.assertTrue(verify.verify(self.dbapi)['valid'])

        second.send_signal(signal.SIGTERM)
        self.assertEqual(0, second.wait(helpers.WAIT))

    def test_three_workers_claim_each_job_once(self):
        made = self._create_jobs(30)
        procs = [self._start_worker(n) for n in range(3)]

        def all_done():
            jobs = self.dbapi.list_jobs(limit=100)
            return all(j.state in ('succeeded', 'failed', 'cancelled')
                       for j in jobs)
        helpers.wait_for(all_done, 'all 30 jobs to finish')
        for job in made:
            job = self._job(job)
            self.assertEqual(('succeeded', 1), (job.state, job.attempts))
            actions = [r.action for r in self._actions(job)]
            self.assertEqual(['job.create', 'job.start', 'job.finish'],
                             actions)
        self._assert_census(self._job(made[0]).result)
        self.assertTrue(verify.verify(self.dbapi)['valid'])
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        self.assertEqual([0, 0, 0], [p.wait(helpers.WAIT) for p in procs])

    def test_census_is_read_only(self):
        engine = sa.create_engine(self.target_url)
        self.addCleanup(engine.dispose)
        conns = []
        event.listen(engine, 'engine_connect', conns.append)

        def try_write(done, total, name):
            conns[-1].exec_driver_sql('DELETE FROM instances')

        exc = self.assertRaises(sa.exc.DBAPIError, census.census, engine,
                                on_table=try_write)
        # Refused by the read-only transaction, not by a privilege: this
        # account may write.
        self.assertRegex(str(exc.orig).lower(), 'read.only')
        with engine.connect() as conn:
            self.assertEqual(13, conn.exec_driver_sql(
                'SELECT count(*) FROM instances').scalar())

    def test_census_as_select_only_user(self):
        url = self._select_only_url(self.target_url)
        engine = sa.create_engine(url)
        self.addCleanup(engine.dispose)
        with engine.connect() as conn:
            # The account really cannot write, so success below means
            # the census needed nothing more than SELECT.
            self.assertRaises(sa.exc.DBAPIError, conn.exec_driver_sql,
                              'DELETE FROM instances')
        seen = []
        event.listen(engine, 'before_cursor_execute',
                     lambda c, cur, stmt, *a: seen.append(stmt))
        result = census.census(engine, target='demo')
        self._assert_census(result)
        writes = [s for s in seen
                  if not s.lstrip().upper().startswith(READS)]
        self.assertEqual([], writes)


class TestWorkerMySQL(db_base.MySQLMixin, _WorkerProcesses,
                      db_base.OpportunisticTestCase):
    pass


class TestWorkerPostgreSQL(db_base.PostgreSQLMixin, _WorkerProcesses,
                           db_base.OpportunisticTestCase):
    pass
