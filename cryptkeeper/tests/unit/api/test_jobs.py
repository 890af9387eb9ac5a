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

"""/v1/jobs: create, list, show, cancel, and every kind of bad input."""

from urllib import parse

from oslo_utils import uuidutils

from cryptkeeper.audit import records
from cryptkeeper.tests.unit.api import base


class JobsTestCase(base.APITestCase):

    def test_create_is_202_with_location_and_audited(self):
        resp = self.app.post_json('/v1/jobs', {'type': 'census',
                                               'target': 'demo'},
                                  status=202)
        job = resp.json
        self.assertTrue(uuidutils.is_uuid_like(job['id']))
        self.assertEqual(('census', 'demo', 'pending', 'noauth'),
                         (job['type'], job['target'], job['state'],
                          job['created_by']))
        self.assertEqual({}, job['progress'])
        self.assertIsNone(job['result'])
        self.assertTrue(job['created_at'].endswith('+00:00'))
        self.assertEqual('http://localhost/v1/jobs/%s' % job['id'],
                         resp.headers['Location'])
        self.assertEqual(resp.headers['x-openstack-request-id'],
                         job['request_id'])
        [rec] = self.audit()
        self.assertEqual(('job.create', 'success', 'job', job['id']),
                         (rec.action, rec.outcome, rec.resource_type,
                          rec.resource_id))
        self.assertEqual({'type': 'census', 'target': 'demo',
                          'params': {}}, rec.details)
        self.assertEqual(job['request_id'], rec.request_id)

    def test_show(self):
        job = self.create_job()
        shown = self.app.get('/v1/jobs/%s' % job['id']).json
        self.assertEqual(job['id'], shown['id'])
        self.assertEqual('pending', shown['state'])

    def test_show_unknown_is_404(self):
        resp = self.app.get('/v1/jobs/%s' % uuidutils.generate_uuid(),
                            expect_errors=True)
        self.assertIn('could not be found', self.assertError(resp, 404))

    def test_cancel_pending_then_409(self):
        job = self.create_job()
        resp = self.app.post('/v1/jobs/%s/cancel' % job['id'], status=202)
        self.assertEqual('cancelled', resp.json['state'])
        self.assertTrue(resp.json['cancel_requested'])
        before = self.counts()
        resp = self.app.post('/v1/jobs/%s/cancel' % job['id'],
                             expect_errors=True)
        self.assertIn('already finished', self.assertError(resp, 409))
        self.assertEqual(before, self.counts())
        actions = [r.action for r in self.audit()]
        self.assertEqual(['job.create', 'job.cancel'], actions)

    def test_cancel_unknown_is_404(self):
        resp = self.app.post('/v1/jobs/%s/cancel'
                             % uuidutils.generate_uuid(),
                             expect_errors=True)
        self.assertError(resp, 404)

    def test_pages_follow_next_links(self):
        made = [self.create_job()['id'] for _ in range(5)]
        jobs, urls = self.walk('/v1/jobs?limit=2', 'jobs')
        for url in urls[1:]:
            self.assertTrue(url.startswith('http://localhost/v1/jobs?'))
        self.assertEqual(made, [j['id'] for j in jobs])
        self.assertEqual(3, len(urls))

    def test_full_last_page_has_no_next(self):
        for _ in range(2):
            self.create_job()
        body = self.app.get('/v1/jobs?limit=2').json
        self.assertEqual(2, len(body['jobs']))
        self.assertNotIn('next', body)

    def test_next_link_keeps_filters_and_sort(self):
        for _ in range(3):
            self.create_job()
        body = self.app.get('/v1/jobs?limit=1&target=demo&sort_dir=desc'
                            ).json
        query = dict(parse.parse_qsl(parse.urlsplit(body['next']).query))
        self.assertEqual({'limit': '1', 'target': 'demo', 'sort_dir': 'desc',
                          'marker': body['jobs'][0]['id']}, query)

    def test_default_and_max_limit(self):
        self.config(default_limit=2, max_limit=3, group='api')
        for _ in range(4):
            self.create_job()
        self.assertEqual(2, len(self.app.get('/v1/jobs').json['jobs']))
        self.assertEqual(3, len(self.app.get('/v1/jobs?limit=3'
                                             ).json['jobs']))
        resp = self.app.get('/v1/jobs?limit=4', expect_errors=True)
        self.assertIn('at most 3', self.assertError(resp, 400))

    def test_filters(self):
        a = self.create_job()
        self.create_job(target='nova')
        self.app.post('/v1/jobs/%s/cancel' % a['id'], status=202)
        got = self.app.get('/v1/jobs?target=nova').json['jobs']
        self.assertEqual(['nova'], [j['target'] for j in got])
        got = self.app.get('/v1/jobs?state=cancelled').json['jobs']
        self.assertEqual([a['id']], [j['id'] for j in got])
        got = self.app.get('/v1/jobs?type=census&state=pending').json
        self.assertEqual(['nova'], [j['target'] for j in got['jobs']])

    def test_sort(self):
        first = self.create_job(target='nova')
        second = self.create_job(target='demo')
        got = self.app.get('/v1/jobs?sort_key=target').json['jobs']
        self.assertEqual([second['id'], first['id']],
                         [j['id'] for j in got])
        got = self.app.get('/v1/jobs?sort_key=created_at&sort_dir=desc'
                           ).json['jobs']
        self.assertEqual([second['id'], first['id']],
                         [j['id'] for j in got])

    def test_sql_looking_filter_is_just_a_string(self):
        self.create_job()
        before = self.counts()
        got = self.app.get('/v1/jobs', params={
            'target': "demo' OR '1'='1"}).json
        self.assertEqual([], got['jobs'])
        got = self.app.get('/v1/jobs', params={
            'target': 'demo; DROP TABLE jobs; --'}).json
        self.assertEqual([], got['jobs'])
        self.assertEqual(before, self.counts())


class JobsBadInputTestCase(base.APITestCase):
    """Each case answers 4xx with a message and writes nothing."""

    def setUp(self):
        super().setUp()
        self.job = self.create_job()
        self.before = self.counts()

    def tearDown(self):
        self.assertEqual(self.before, self.counts())
        super().tearDown()

    def _post(self, body, **kw):
        return self.app.post('/v1/jobs', body, expect_errors=True,
                             content_type=kw.pop('content_type',
                                                 'application/json'), **kw)

    def test_malformed_json(self):
        self.assertIn('not valid JSON',
                      self.assertError(self._post('{"type": "cen'), 400))

    def test_deeply_nested_json(self):
        self.assertError(self._post('[' * 20000 + ']' * 20000), 400)

    def test_body_not_an_object(self):
        for body in ('[]', '"census"', '42', 'null'):
            self.assertError(self._post(body), 400)

    def test_not_json_content_type(self):
        resp = self._post('type=census&target=demo',
                          content_type='application/x-www-form-urlencoded')
        self.assertError(resp, 415)
        resp = self._post('<job><type>census</type></job>',
                          content_type='application/xml')
        self.assertError(resp, 415)

    def test_form_content_types_even_without_body(self):
        for ctype in ('multipart/form-data',
                      'application/x-www-form-urlencoded'):
            resp = self.app.post('/v1/jobs/%s/cancel' % self.job['id'],
                                 expect_errors=True,
                                 headers={'Content-Type': ctype})
            self.assertError(resp, 415)

    def test_empty_body(self):
        self.assertError(self._post(''), 400)

    def test_unknown_field(self):
        resp = self.app.post_json('/v1/jobs', {
            'type': 'census', 'target': 'demo', 'mode': 'purge'},
            expect_errors=True)
        self.assertIn('mode', self.assertError(resp, 400))

    def test_missing_field(self):
        resp = self.app.post_json('/v1/jobs', {'type': 'census'},
                                  expect_errors=True)
        self.assertIn('target', self.assertError(resp, 400))

    def test_wrong_types(self):
        for body in ({'type': 5, 'target': 'demo'},
                     {'type': None, 'target': 'demo'},
                     {'type': 'census', 'target': None},
                     {'type': 'census', 'target': ['demo']},
                     {'type': 'census', 'target': 'demo', 'params': 'x'},
                     {'type': 'census', 'target': 'demo', 'params': [1]}):
            resp = self.app.post_json('/v1/jobs', body, expect_errors=True)
            self.assertError(resp, 400)

    def test_unknown_type(self):
        resp = self.app.post_json('/v1/jobs', {'type': 'vacuum',
                                               'target': 'demo'},
                                  expect_errors=True)
        self.assertIn('census', self.assertError(resp, 400))

    def test_unknown_target(self):
        resp = self.app.post_json('/v1/jobs', {'type': 'census',
                                               'target': 'prod'},
                                  expect_errors=True)
        self.assertIn('configuration file', self.assertError(resp, 400))

    def test_null_params_mean_none(self):
        resp = self.app.post_json('/v1/jobs', {
            'type': 'census', 'target': 'demo', 'params': None}, status=202)
        self.assertEqual({}, resp.json['params'])
        self.before = self.counts()

    def test_census_takes_no_params(self):
        resp = self.app.post_json('/v1/jobs', {
            'type': 'census', 'target': 'demo', 'params': {'age': 30}},
            expect_errors=True)
        self.assertIn('age', self.assertError(resp, 400))

    def test_bad_limits(self):
        for limit in ('0', '-1', '-100', 'ten', '1.5', '9' * 30, ''):
            resp = self.app.get('/v1/jobs', params={'limit': limit},
                                expect_errors=True)
            self.assertError(resp, 400)

    def test_bad_sort(self):
        for params in ({'sort_key': 'id'}, {'sort_key': 'uuid; --'},
                       {'sort_dir': 'up'}):
            resp = self.app.get('/v1/jobs', params=params,
                                expect_errors=True)
            self.assertIn('sort_', self.assertError(resp, 400))

    def test_bad_filters(self):
        for params in ({'state': 'exploded'}, {'type': 'vacuum'},
                       {'target': 'x' * 256}, {'unknown': '1'}):
            resp = self.app.get('/v1/jobs', params=params,
                                expect_errors=True)
            self.assertError(resp, 400)

    def test_bad_markers(self):
        for marker in ('not-a-uuid', uuidutils.generate_uuid()):
            resp = self.app.get('/v1/jobs', params={'marker': marker},
                                expect_errors=True)
            self.assertIn('marker', self.assertError(resp, 400))

    def test_non_uuid_ids(self):
        for path in ('/v1/jobs/42', "/v1/jobs/1'%20OR%20'1'='1",
                     '/v1/jobs/' + 'a' * 300):
            self.assertIn('UUID', self.assertError(
                self.app.get(path, expect_errors=True), 400))
            self.assertError(self.app.post(path + '/cancel',
                                           expect_errors=True), 400)

    def test_no_update_or_delete(self):
        path = '/v1/jobs/%s' % self.job['id']
        self.assertError(self.app.delete(path, expect_errors=True), 405)
        self.assertError(self.app.put_json(path, {}, expect_errors=True),
                         405)


class JobsAuditTestCase(base.APITestCase):

    def test_cancel_is_audited_with_who(self):
        job = self.create_job()
        self.as_user.post('/v1/jobs/%s/cancel' % job['id'],
                          headers=base.ADMIN, status=202)
        rec = self.audit()[-1]
        self.assertEqual(('job.cancel', 'admin-user', 'admin-project',
                          records.OUTCOMES[0]),
                         (rec.action, rec.user_id, rec.project_id,
                          rec.outcome))
        self.assertEqual('cancelled', rec.details['state'])
