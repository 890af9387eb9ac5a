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

"""Schedules in the database: audit in the same transaction, the fire CAS."""

import datetime

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.common import exception
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests import base

NOW = datetime.datetime(2026, 11, 22, 10, 17)
DUE = datetime.datetime(2026, 11, 22, 2, 30)
NEXT = datetime.datetime(2026, 11, 23, 2, 30)


class _Ctx:
    pass


def _session():
    return sqla_api.main_context.writer.using(_Ctx())


class SchedulesDbTestCase(base.DbTestCase):

    def _create(self, name='nightly', **kw):
        values = {'name': name, 'cron': '30 2 * * *', 'enabled': True,
                  'job_type': 'purge', 'target': 'nova',
                  'params': {'mode': 'archive'}, 'next_run_at': DUE,
                  'created_by': 'admin-user', 'project_id': 'admin-project'}
        values.update(kw)
        return self.dbapi.create_schedule(
            values, records.entry(self.context, 'schedule.create'))

    def _count(self, model):
        with _session() as session:
            return session.query(model).count()

    def _break_audit_chain_head(self):
        with _session() as session:
            session.query(models.AuditHead).delete()

    def _fire(self, schedule, job_values=True, expected=None):
        values = None
        if job_values:
            values = {'type': 'purge', 'target': schedule.target,
                      'params': {'mode': 'archive'},
                      'created_by': schedule.created_by,
                      'request_id': 'req-fire'}
        return self.dbapi.fire_schedule(
            schedule.id, expected or schedule.next_run_at, NEXT, NOW,
            values, records.entry(None, 'schedule.fire',
                                  resource_id=schedule.uuid,
                                  details={'due_at': 'x'}),
            records.entry(None, 'job.create'))

    def test_create_get_and_audit(self):
        made = self._create()
        got = self.dbapi.get_schedule(made.uuid)
        self.assertEqual(('nightly', True, DUE, {'mode': 'archive'}),
                         (got.name, got.enabled, got.next_run_at,
                          got.params))
        [rec] = self.dbapi.list_audit()
        self.assertEqual(('schedule.create', 'schedule', made.uuid),
                         (rec.action, rec.resource_type, rec.resource_id))

    def test_unknown_raises(self):
        ghost = 'c0ffee00-0000-4000-8000-000000000000'
        self.assertRaises(exception.ScheduleNotFound,
                          self.dbapi.get_schedule, ghost)
        self.assertRaises(exception.ScheduleNotFound,
                          self.dbapi.update_schedule, ghost, {'name': 'x'},
                          records.entry(None, 'schedule.update'))
        self.assertRaises(exception.ScheduleNotFound,
                          self.dbapi.delete_schedule, ghost,
                          records.entry(None, 'schedule.delete'))
        self.assertRaises(exception.ScheduleNotFound,
                          self.dbapi.list_schedules, marker=ghost)
        self.assertEqual([], self.dbapi.list_audit())

    def test_duplicate_name(self):
        self._create()
        self.assertRaises(exception.ScheduleNameExists, self._create)
        other = self._create(name='other')
        self.assertRaises(exception.ScheduleNameExists,
                          self.dbapi.update_schedule, other.uuid,
                          {'name': 'nightly'},
                          records.entry(None, 'schedule.update'))
        self.assertEqual(2, self._count(models.Schedule))
        self.assertEqual(2, len(self.dbapi.list_audit()))

    def test_list_filters_and_keyset_pages(self):
        made = [self._create(name='s%d' % i, target='t%d' % (i % 2),
                             enabled=i != 3) for i in range(7)]
        seen = self.all_pages(self.dbapi.list_schedules, 3)
        self.assertEqual([s.uuid for s in made], [s.uuid for s in seen])
        self.assertEqual(3, len(self.dbapi.list_schedules(
            filters={'target': 't1'})))
        self.assertEqual(['s3'], [s.name for s in self.dbapi.list_schedules(
            filters={'enabled': False})])
        self.assertEqual(['s6', 's5'], [s.name for s in
                                        self.dbapi.list_schedules(
                                            sort_key='name',
                                            sort_dir='desc', limit=2)])

    def test_update_and_delete_are_audited(self):
        made = self._create()
        got = self.dbapi.update_schedule(
            made.uuid, {'enabled': False, 'next_run_at': None},
            records.entry(self.context, 'schedule.update'))
        self.assertEqual((False, None), (got.enabled, got.next_run_at))
        self.dbapi.delete_schedule(made.uuid,
                                   records.entry(self.context,
                                                 'schedule.delete'))
        self.assertEqual(0, self._count(models.Schedule))
        actions = [(r.action, r.resource_id) for r in
                   self.dbapi.list_audit()]
        self.assertEqual([('schedule.create', made.uuid),
                          ('schedule.update', made.uuid),
                          ('schedule.delete', made.uuid)], actions)
        self.assertEqual('nightly', self.dbapi.list_audit()[-1].details[
            'schedule']['name'])

    def test_no_change_without_its_audit_record(self):
        made = self._create()
        self._break_audit_chain_head()
        self.assertRaises(RuntimeError, self._create, name='second')
        self.assertRaises(RuntimeError, self.dbapi.update_schedule,
                          made.uuid, {'name': 'renamed'},
                          records.entry(None, 'schedule.update'))
        self.assertRaises(RuntimeError, self.dbapi.delete_schedule,
                          made.uuid, records.entry(None, 'schedule.delete'))
        self.assertRaises(RuntimeError, self._fire, made)
        got = self.dbapi.get_schedule(made.uuid)
        self.assertEqual(('nightly', DUE, None),
                         (got.name, got.next_run_at, got.last_job_id))
        self.assertEqual(1, self._count(models.Schedule))
        self.assertEqual(0, self._count(models.Job))

    def test_due_schedules(self):
        due = self._create(name='due')
        self._create(name='later', next_run_at=NOW + datetime.timedelta(
            minutes=1))
        self._create(name='off', enabled=False)
        self._create(name='never', next_run_at=None)
        earlier = self._create(name='earlier', next_run_at=DUE -
                               datetime.timedelta(days=1))
        exact = self._create(name='exact', next_run_at=NOW)
        self.assertEqual([earlier.uuid, due.uuid, exact.uuid],
                         [s.uuid for s in self.dbapi.due_schedules(NOW)])
        self.assertEqual(1, len(self.dbapi.due_schedules(NOW, limit=1)))

    def test_fire_creates_job_moves_next_run_and_audits_both(self):
        made = self._create()
        won, job = self._fire(made)
        self.assertTrue(won)
        self.assertEqual(('purge', 'nova', 'pending', 'admin-user',
                          'req-fire'),
                         (job.type, job.target, job.state, job.created_by,
                          job.request_id))
        got = self.dbapi.get_schedule(made.uuid)
        self.assertEqual((NEXT, NOW, job.uuid),
                         (got.next_run_at, got.last_run_at,
                          got.last_job_id))
        create, fire = self.dbapi.list_audit()[1:]
        self.assertEqual(('job.create', 'job', job.uuid),
                         (create.action, create.resource_type,
                          create.resource_id))
        self.assertEqual(('schedule.fire', 'schedule', made.uuid, 'success'),
                         (fire.action, fire.resource_type, fire.resource_id,
                          fire.outcome))
        self.assertEqual({'due_at': 'x', 'job_id': job.uuid}, fire.details)
        self.assertTrue(verify.verify(self.dbapi)['valid'])

    def test_second_fire_of_the_same_due_time_loses(self):
        made = self._create()
        self.assertTrue(self._fire(made)[0])
        audit = len(self.dbapi.list_audit())
        # The same stale row, as a second worker that read it before the
        # first fired would hold it.
        self.assertEqual((False, None), self._fire(made))
        self.assertEqual(1, self._count(models.Job))
        self.assertEqual(audit, len(self.dbapi.list_audit()))
        self.assertEqual(NEXT, self.dbapi.get_schedule(made.uuid).next_run_at)

    def test_disabled_meanwhile_does_not_fire(self):
        made = self._create()
        self.dbapi.update_schedule(made.uuid, {'enabled': False},
                                   records.entry(None, 'schedule.update'))
        self.assertEqual((False, None), self._fire(made))
        self.assertEqual(0, self._count(models.Job))

    def test_refused_fire_moves_next_run_without_a_job(self):
        made = self._create()
        won, job = self._fire(made, job_values=False)
        self.assertEqual((True, None), (won, job))
        got = self.dbapi.get_schedule(made.uuid)
        self.assertEqual((NEXT, NOW, None),
                         (got.next_run_at, got.last_run_at,
                          got.last_job_id))
        self.assertEqual(0, self._count(models.Job))
        fire = self.dbapi.list_audit()[-1]
        self.assertEqual(('schedule.fire', None),
                         (fire.action, fire.details['job_id']))
