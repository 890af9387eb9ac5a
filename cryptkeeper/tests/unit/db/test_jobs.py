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

"""Jobs in the database: creation, pages, cancel, leases and fencing."""

import datetime

from oslo_utils import timeutils

from cryptkeeper.audit import records
from cryptkeeper.common import exception
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests import base


class JobsTestCase(base.DbTestCase):

    def _create(self, **kw):
        values = {'type': 'census', 'target': 'demo',
                  'created_by': 'admin-user'}
        values.update(kw)
        return self.dbapi.create_job(
            values, records.entry(self.context, 'job.create'))

    def test_create_is_pending_and_audited(self):
        job = self._create()
        self.assertEqual('pending', job.state)
        self.assertEqual(36, len(job.uuid))
        [rec] = self.dbapi.list_audit()
        self.assertEqual(('job.create', 'job', job.uuid, 'admin-user'),
                         (rec.action, rec.resource_type, rec.resource_id,
                          rec.user_id))

    def test_get_unknown_raises(self):
        self.assertRaises(exception.JobNotFound, self.dbapi.get_job,
                          'c0ffee00-0000-4000-8000-000000000000')

    def test_list_filters_and_keyset_pages(self):
        made = [self._create(target='t%d' % (i % 2)) for i in range(7)]
        seen = self.all_pages(self.dbapi.list_jobs, 3)
        self.assertEqual([j.uuid for j in made], [j.uuid for j in seen])
        only = self.dbapi.list_jobs(filters={'target': 't1'})
        self.assertEqual(3, len(only))
        desc = self.dbapi.list_jobs(sort_key='created_at', sort_dir='desc')
        self.assertEqual([j.uuid for j in reversed(made)],
                         [j.uuid for j in desc])

    def test_cancel_pending_ends_it(self):
        job = self._create()
        job = self.dbapi.request_cancel(
            job.uuid, records.entry(self.context, 'job.cancel'))
        self.assertEqual('cancelled', job.state)
        self.assertRaises(exception.JobFinished, self.dbapi.request_cancel,
                          job.uuid, records.entry(self.context, 'job.cancel'))
        self.assertIsNone(self.dbapi.claim_job('w1', 60))

    def test_cancel_running_only_flags_it(self):
        job = self._create()
        claimed = self.dbapi.claim_job('w1', 60)
        self.dbapi.request_cancel(
            job.uuid, records.entry(self.context, 'job.cancel'))
        self.assertEqual('running', self.dbapi.get_job(job.uuid).state)
        self.assertTrue(self.dbapi.renew_lease(
            claimed.id, 'w1', claimed.lease_version, 60))

    def test_claim_renew_finish(self):
        job = self._create()
        claimed = self.dbapi.claim_job('w1', 60)
        self.assertEqual((job.uuid, 'running', 'w1', 1),
                         (claimed.uuid, claimed.state, claimed.worker,
                          claimed.attempts))
        self.assertIsNone(self.dbapi.claim_job('w2', 60))
        self.assertFalse(self.dbapi.renew_lease(
            claimed.id, 'w1', claimed.lease_version, 60,
            progress={'steps': 1}))
        done = self.dbapi.finish_job(
            claimed.id, 'w1', claimed.lease_version, 'succeeded',
            {'ok': True}, {'steps': 2},
            records.entry(None, 'job.finish'))
        self.assertEqual(('succeeded', {'ok': True}, {'steps': 2}),
                         (done.state, done.result, done.progress))
        actions = [r.action for r in self.dbapi.list_audit()]
        self.assertEqual(['job.create', 'job.start', 'job.finish'], actions)

    def _expire(self, job_id):
        past = timeutils.utcnow() - datetime.timedelta(seconds=1)
        with sqla_api.main_context.writer.using(self) as session:
            session.query(models.Job).filter_by(id=job_id).update(
                {'lease_expires_at': past})

    def test_expired_lease_is_taken_over_and_old_worker_fenced(self):
        self._create()
        first = self.dbapi.claim_job('w1', 60)
        self._expire(first.id)
        second = self.dbapi.claim_job('w2', 60)
        self.assertEqual((first.id, 'w2', 2),
                         (second.id, second.worker, second.attempts))
        self.assertRaises(exception.LeaseLost, self.dbapi.renew_lease,
                          first.id, 'w1', first.lease_version, 60)
        self.assertRaises(exception.LeaseLost, self.dbapi.finish_job,
                          first.id, 'w1', first.lease_version, 'succeeded',
                          {}, {}, records.entry(None, 'job.finish'))
        takeover = self.dbapi.list_audit(filters={'action': 'job.takeover'})
        self.assertEqual(1, len(takeover))
        self.assertIn('w1', takeover[0].reason)

    def test_latest_job(self):
        self.assertIsNone(self.dbapi.latest_job('demo', 'census'))
        self._create()
        job = self.dbapi.claim_job('w1', 60)
        self.dbapi.finish_job(job.id, 'w1', job.lease_version, 'succeeded',
                              {'tables': []}, {},
                              records.entry(None, 'job.finish'))
        self.assertEqual(job.uuid,
                         self.dbapi.latest_job('demo', 'census').uuid)


class SQLiteEngineTestCase(base.TestCase):

    def test_transactions_begin_immediate(self):
        # Deferred transactions that read then write fail at once under
        # a concurrent writer; every transaction must take the lock first.
        import os

        from oslo_db.sqlalchemy import engines
        from sqlalchemy import event

        url = 'sqlite:///' + os.path.join(self.conf_fixture.state_path,
                                          'x.sqlite')
        engine = sqla_api.prepare_engine(engines.create_engine(url))
        self.addCleanup(engine.dispose)
        seen = []
        event.listen(engine, 'before_cursor_execute',
                     lambda conn, cur, stmt, *a: seen.append(stmt))
        with engine.begin() as conn:
            conn.exec_driver_sql('SELECT 1')
        self.assertEqual(['BEGIN IMMEDIATE', 'SELECT 1'], seen[:2])
