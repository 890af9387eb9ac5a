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

"""POST /v1/jobs for purge jobs: parameters, restore rules, bad input."""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils

from cryptkeeper.api.controllers.v1 import job as job_api
from cryptkeeper.audit import records
from cryptkeeper.purge import journal
from cryptkeeper.tests.unit.api import base
from cryptkeeper.worker import journal as db_journal

NOVA_URL = 'mysql+pymysql://nova:s3cret@db.example/nova'
API_URL = 'mysql+pymysql://nova:s3cret@db.example/nova_api'


class PurgeJobsBase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture.set_targets(
            demo='sqlite:////tmp/demo.sqlite',
            nova=('nova', NOVA_URL),
            nova_api=('nova_api', API_URL),
            other=('nova', NOVA_URL + '2'))

    def post(self, body, status=202):
        return self.app.post_json('/v1/jobs', body, status=status,
                                  expect_errors=status >= 400)

    def archive_job(self, target='nova', state='succeeded', batches=1,
                    mode='archive', job_type='purge'):
        """A finished job made the way a worker would leave it."""
        params = {'mode': mode} if job_type == 'purge' else {}
        self.dbapi.create_job({'type': job_type, 'target': target,
                               'params': params},
                              records.entry(self.context, 'job.create'))
        job = self.dbapi.claim_job('w', 60)
        self.assertEqual(target, job.target)
        j = db_journal.DbJournal.for_run(self.dbapi, job, 'w')
        for seq in range(1, batches + 1):
            b = journal.Batch(seq=seq, root='instances', marker=[seq],
                              keys={'instances': [[seq]]},
                              counts={'instances': 1})
            j.prepare(b)
            j.done(b)
        if state != 'running':
            self.dbapi.finish_job(job.id, 'w', job.lease_version, state,
                                  {}, {}, records.entry(None, 'job.finish'))
        return job


class PurgeJobsTestCase(PurgeJobsBase):

    def test_fixed_interface_top_level_params(self):
        job = self.post({'type': 'purge', 'target': 'nova',
                         'mode': 'archive', 'older_than': 0}).json
        self.assertEqual(('purge', 'nova', 'pending'),
                         (job['type'], job['target'], job['state']))
        self.assertEqual('archive', job['params']['mode'])
        self.assertEqual(0, job['params']['older_than'])
        self.assertEqual('shadow', job['params']['backend'])
        [rec] = self.audit()
        self.assertEqual(('job.create', 'success'),
                         (rec.action, rec.outcome))
        # The audit record holds the exact, normalised parameters.
        self.assertEqual(job['params'], rec.details['params'])
        self.assertEqual(job['params'],
                         self.dbapi.get_job(job['id']).params)

    def test_params_object_is_the_same(self):
        top = self.post({'type': 'purge', 'target': 'nova',
                         'mode': 'archive', 'older_than': 30,
                         'batch_size': 50}).json
        nested = self.post({'type': 'purge', 'target': 'nova', 'params': {
            'mode': 'archive', 'older_than': 30, 'batch_size': 50}}).json
        self.assertEqual(top['params'], nested['params'])
        both = self.post({'type': 'purge', 'target': 'nova',
                          'mode': 'archive', 'params': {
                              'mode': 'archive', 'older_than': 30,
                              'batch_size': 50}}).json
        self.assertEqual(top['params'], both['params'])

    def test_default_mode_is_plan(self):
        job = self.post({'type': 'purge', 'target': 'demo'}).json
        self.assertEqual('plan', job['params']['mode'])

    def test_all_parameters(self):
        before = (timeutils.utcnow() - datetime.timedelta(days=3)
                  ).replace(microsecond=0).isoformat() + 'Z'
        job = self.post({
            'type': 'purge', 'target': 'nova', 'mode': 'archive',
            'before': before, 'tables': ['instances'],
            'project_id': 'p1', 'batch_size': 10,
            'max_rows_per_second': 100, 'pause': 1.5,
            'window': '22:00-04:00', 'backend': 'files'}).json
        params = job['params']
        self.assertEqual((['instances'], 'p1', 10, 100, 1.5, '22:00-04:00',
                          'files'),
                         (params['tables'], params['project_id'],
                          params['batch_size'],
                          params['max_rows_per_second'], params['pause'],
                          params['window'], params['backend']))

    def test_cells_all_on_nova_api(self):
        job = self.post({'type': 'purge', 'target': 'nova_api',
                         'mode': 'plan', 'cells': 'all'}).json
        self.assertEqual('all', job['params']['cells'])

    def test_restore_of_an_archive_job(self):
        # Made first: archive_job claims the oldest pending job.
        made = [self.archive_job(state=state)
                for state in ('succeeded', 'partial')]
        for archived in made:
            job = self.post({'type': 'purge', 'target': 'nova',
                             'mode': 'restore',
                             'restore_job': archived.uuid}).json
            self.assertEqual(archived.uuid, job['params']['restore_job'])

    def test_every_purge_parameter_is_accepted_at_the_top_level(self):
        for name in job_api.JOB_PARAMS['purge']:
            self.assertIn(name, dir(job_api.JobPost))

    def test_purge_filter_and_states(self):
        self.post({'type': 'purge', 'target': 'demo'})
        got = self.app.get('/v1/jobs?type=purge').json['jobs']
        self.assertEqual(['purge'], [j['type'] for j in got])
        self.assertEqual([], self.app.get('/v1/jobs?state=partial'
                                          ).json['jobs'])


class PurgeJobsBadInputTestCase(PurgeJobsBase):
    """Every bad input: 400 with a message, no job, no audit record."""

    def check(self, body, *words):
        before = self.counts()
        resp = self.post(body, status=400)
        message = self.assertError(resp, 400)
        for word in words:
            self.assertIn(word, message)
        self.assertEqual(before, self.counts())
        return message

    def purge(self, **params):
        return dict({'type': 'purge', 'target': 'nova'}, **params)

    def test_unknown_target(self):
        self.check(self.purge(target='prod'), 'prod', 'configuration file')

    def test_unknown_parameter(self):
        self.check(self.purge(params={'colour': 'blue'}), 'colour')
        # WSME refuses an unknown top-level attribute by name.
        self.check(self.purge(colour='blue'), 'colour')

    def test_census_takes_no_purge_parameter(self):
        self.check({'type': 'census', 'target': 'demo', 'older_than': 3},
                   'older_than')

    def test_conflicting_duplicate(self):
        self.check(self.purge(mode='archive', params={'mode': 'plan'}),
                   'mode')

    def test_bad_mode(self):
        self.check(self.purge(mode='obliterate'), 'mode')

    def test_older_than(self):
        for value in (-1, 36501, 10 ** 9, 'ten', True, [1], {}):
            self.check(self.purge(older_than=value), 'older_than')

    def test_before(self):
        future = (timeutils.utcnow() + datetime.timedelta(days=1)
                  ).isoformat() + 'Z'
        for value in (future, 'yesterday', '2024-13-01T00:00:00Z', 5):
            self.check(self.purge(before=value), 'before')

    def test_older_than_and_before(self):
        self.check(self.purge(older_than=3, before='2020-01-01T00:00:00Z'))

    def test_batch_size(self):
        for value in (0, -5, 10001, 10 ** 12, 'many'):
            self.check(self.purge(batch_size=value), 'batch_size')

    def test_rate_and_pause(self):
        for value in (0, -1, 10 ** 7, 'fast'):
            self.check(self.purge(max_rows_per_second=value),
                       'max_rows_per_second')
        for value in (-1, 3601, 'long'):
            self.check(self.purge(pause=value), 'pause')

    def test_window(self):
        for value in ('25:00-26:00', '22:00', 'night', '10:00-10:61',
                      '1:00-2:00:00', 5):
            self.check(self.purge(window=value), 'window')

    def test_backend(self):
        self.check(self.purge(backend='tape'), 'backend')

    def test_tables(self):
        for value in ([], 5, {'instances': 1}):
            self.check(self.purge(tables=value), 'tables')
        for name in ('instances; DROP TABLE jobs', "x' OR '1'='1",
                     '1abc', 'a' * 300, 'shadow_instances'):
            self.check(self.purge(tables=[name]))

    def test_excluded_table(self):
        self.check(self.purge(tables=['migrate_version']),
                   'migrate_version')

    def test_cells_only_on_nova_api(self):
        self.check(self.purge(cells='all'), 'cells')
        self.check(self.purge(target='nova_api', cells='some'), 'cells')

    def test_restore_needs_a_job(self):
        self.check(self.purge(mode='restore'), 'restore_job')
        self.check(self.purge(mode='restore', restore_job='nope'),
                   'restore_job')
        self.check(self.purge(mode='restore',
                              restore_job=uuidutils.generate_uuid()),
                   'restore_job')

    def test_restore_of_a_job_that_is_not_an_archive(self):
        census = self.archive_job(job_type='census', batches=0)
        self.check(self.purge(mode='restore', restore_job=census.uuid),
                   'not a purge archive job')
        plan = self.archive_job(mode='plan', batches=0)
        self.check(self.purge(mode='restore', restore_job=plan.uuid),
                   'not a purge archive job')

    def test_restore_of_another_target(self):
        archived = self.archive_job(target='other')
        self.check(self.purge(mode='restore', restore_job=archived.uuid),
                   'other')

    def test_restore_of_a_running_job(self):
        archived = self.archive_job(state='running')
        self.check(self.purge(mode='restore', restore_job=archived.uuid),
                   'running')

    def _restorable(self, state):
        # Whole batches of a job that stopped part way are in the
        # archive; putting them back must not need hand-written SQL.
        archived = self.archive_job(state=state)
        job = self.post(self.purge(mode='restore',
                                   restore_job=archived.uuid)).json
        self.assertEqual(archived.uuid, job['params']['restore_job'])

    def test_restore_of_a_failed_job(self):
        self._restorable('failed')

    def test_restore_of_a_cancelled_job(self):
        self._restorable('cancelled')

    def test_restore_of_a_job_that_archived_nothing(self):
        archived = self.archive_job(batches=0)
        self.check(self.purge(mode='restore', restore_job=archived.uuid),
                   'nothing to restore')
