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

"""/v1/targets: configured targets, redacted, and their census."""

from cryptkeeper.audit import records
from cryptkeeper.tests.unit.api import base


class TargetsTestCase(base.APITestCase):

    def test_list_redacts_passwords(self):
        resp = self.app.get('/v1/targets')
        self.assertNotIn('s3cret', resp.text)
        got = {t['name']: t for t in resp.json['targets']}
        self.assertEqual(['demo', 'nova'], sorted(got))
        self.assertEqual('mysql+pymysql://nova:***@db.example/nova',
                         got['nova']['connection'])
        self.assertEqual('nova', got['nova']['profile'])
        self.assertIsNone(got['nova']['reachable'])
        self.assertIsNone(got['nova']['checked_at'])

    def test_reachability_from_workers(self):
        self.dbapi.set_target_state('nova', False, error='timed out')
        self.dbapi.set_target_state('demo', True)
        got = {t['name']: t for t in
               self.app.get('/v1/targets').json['targets']}
        self.assertEqual((False, 'timed out'), (got['nova']['reachable'],
                                                got['nova']['error']))
        self.assertTrue(got['demo']['reachable'])
        self.assertTrue(got['demo']['checked_at'].endswith('+00:00'))

    def test_pages_and_sort(self):
        body = self.app.get('/v1/targets?limit=1').json
        self.assertEqual(['demo'], [t['name'] for t in body['targets']])
        body = self.app.get(body['next']).json
        self.assertEqual(['nova'], [t['name'] for t in body['targets']])
        self.assertNotIn('next', body)
        body = self.app.get('/v1/targets?sort_key=profile&sort_dir=desc'
                            ).json
        self.assertEqual(['nova', 'demo'],
                         [t['name'] for t in body['targets']])

    def test_bad_query(self):
        for params in ({'limit': '0'}, {'marker': 'prod'},
                       {'sort_key': 'connection'}, {'sort_dir': 'x'}):
            resp = self.app.get('/v1/targets', params=params,
                                expect_errors=True)
            self.assertError(resp, 400)

    def test_show(self):
        body = self.app.get('/v1/targets/nova').json
        self.assertEqual('nova', body['name'])
        self.assertNotIn('s3cret', body['connection'])

    def test_show_unknown_is_404(self):
        resp = self.app.get('/v1/targets/prod', expect_errors=True)
        self.assertIn('configuration file', self.assertError(resp, 404))

    def test_census_none_yet_is_404(self):
        resp = self.app.get('/v1/targets/demo/census', expect_errors=True)
        self.assertIn('no finished census', self.assertError(resp, 404))
        resp = self.app.get('/v1/targets/prod/census', expect_errors=True)
        self.assertError(resp, 404)

    def test_census_is_latest_succeeded_result(self):
        for tables in ([{'name': 'old'}], [{'name': 'new'}]):
            self.create_job()
            job = self.dbapi.claim_job('w1', 60)
            self.dbapi.finish_job(
                job.id, 'w1', job.lease_version, 'succeeded',
                {'tables': tables}, {}, records.entry(None, 'job.finish'))
        self.create_job()
        failed = self.dbapi.claim_job('w1', 60)
        self.dbapi.finish_job(failed.id, 'w1', failed.lease_version,
                              'failed', {'tables': [{'name': 'bad'}]}, {},
                              records.entry(None, 'job.finish'))
        body = self.app.get('/v1/targets/demo/census').json
        self.assertEqual([{'name': 'new'}], body['tables'])
        self.assertEqual(job.uuid, body['job_id'])
        self.assertEqual('demo', body['target'])
        self.assertTrue(body['finished_at'].endswith('+00:00'))

    def test_no_write_methods(self):
        resp = self.app.post_json('/v1/targets', {
            'name': 'evil', 'connection': 'sqlite:////etc/passwd'},
            expect_errors=True)
        self.assertError(resp, 405)
        resp = self.app.delete('/v1/targets/demo', expect_errors=True)
        self.assertError(resp, 405)
