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

"""Version discovery, errors, request ids and the middleware stack."""

import webtest

from cryptkeeper.api import app
from cryptkeeper.api.middleware import parsable_error
from cryptkeeper.tests import base as test_base
from cryptkeeper.tests.unit.api import base


class RootTestCase(base.APITestCase):

    def test_versions(self):
        resp = self.app.get('/')
        self.assertEqual('v1', resp.json['default_version']['id'])
        [v1] = resp.json['versions']
        self.assertEqual('CURRENT', v1['status'])
        self.assertEqual('http://localhost/v1', v1['links'][0]['href'])
        self.assertTrue(resp.headers['x-openstack-request-id'])

    def test_v1_root_lists_resources(self):
        resp = self.app.get('/v1')
        self.assertEqual('v1', resp.json['id'])
        # Each feature adds its resource; these must be there.
        self.assertLessEqual({'jobs', 'audit', 'targets', 'schedules'},
                             set(resp.json['resources']))
        self.assertEqual(
            'http://localhost/v1/jobs',
            resp.json['resources']['jobs']['links'][0]['href'])

    def test_public_endpoint_used_in_links(self):
        self.config(public_endpoint='https://ck.example:8443/', group='api')
        resp = self.app.get('/v1')
        self.assertEqual('https://ck.example:8443/v1',
                         resp.json['links'][0]['href'])

    def test_unknown_route_is_json_404(self):
        resp = self.app.get('/v2/nothing', expect_errors=True)
        self.assertError(resp, 404)

    def test_wrong_method_is_json_405(self):
        resp = self.app.delete('/v1/jobs', expect_errors=True)
        self.assertError(resp, 405)

    def test_405_allow_header_lists_real_methods(self):
        job = self.create_job()['id']
        resp = self.app.post('/v1/jobs/%s' % job, expect_errors=True)
        self.assertError(resp, 405)
        self.assertEqual('GET', resp.headers['Allow'])
        resp = self.app.get('/v1/jobs/%s/cancel' % job, expect_errors=True)
        self.assertEqual(405, resp.status_int)
        self.assertEqual('POST', resp.headers['Allow'])
        resp = self.app.put('/v1/jobs', expect_errors=True)
        self.assertEqual('GET, POST', resp.headers['Allow'])

    def test_xml_is_never_served(self):
        resp = self.app.get('/v1', headers={'Accept': 'application/xml'})
        self.assertEqual('application/json', resp.content_type)
        self.assertEqual('v1', resp.json['id'])

    def test_request_id_on_success_and_errors(self):
        ids = set()
        for path, status in (('/v1/jobs', 200), ('/v1/jobs/x', 400),
                             ('/nope', 404)):
            resp = self.app.get(path, status=status)
            ids.add(resp.headers['x-openstack-request-id'])
        self.assertEqual(3, len(ids))

    def test_oversize_body_is_413(self):
        self.config(max_request_body_size=1024, group='api')
        big_app = webtest.TestApp(app.setup_app('noauth'))
        before = self.counts()
        resp = big_app.post_json('/v1/jobs', {'type': 'census',
                                              'target': 'x' * 2000},
                                 expect_errors=True)
        self.assertIn('1024', self.assertError(resp, 413))
        self.assertEqual(before, self.counts())

    def test_noauth_ignores_client_identity_headers(self):
        job = self.app.post_json(
            '/v1/jobs', {'type': 'census', 'target': 'demo'},
            headers={'X-User-Id': 'mallory', 'X-Project-Id': 'evil'},
            status=202).json
        self.assertEqual('noauth', job['created_by'])
        self.assertIsNone(job['project_id'])


class KeystoneModeTestCase(base.APITestCase):
    """auth_token wired in; no Keystone is reached without a token."""

    def setUp(self):
        super().setUp()
        # Named in the 401's WWW-Authenticate header; never contacted.
        self.config(www_authenticate_uri='http://127.0.0.1:1/v3',
                    group='keystone_authtoken')
        self.ks = webtest.TestApp(app.setup_app('keystone'))

    def test_no_token_is_json_401_with_request_id(self):
        before = self.counts()
        for path in ('/v1/jobs', '/v1/audit', '/v1/targets/demo'):
            resp = self.ks.get(path, headers=base.ADMIN,
                               expect_errors=True)
            self.assertError(resp, 401)
            self.assertIn('127.0.0.1:1', resp.headers['WWW-Authenticate'])
        resp = self.ks.post_json('/v1/jobs', {'type': 'census',
                                              'target': 'demo'},
                                 expect_errors=True)
        self.assertError(resp, 401)
        self.assertEqual(before, self.counts())

    def test_missing_www_authenticate_uri_refuses_to_start(self):
        self.config(www_authenticate_uri=None, group='keystone_authtoken')
        err = self.assertRaises(ValueError, app.setup_app, 'keystone')
        self.assertIn('www_authenticate_uri', str(err))

    def test_public_routes_need_no_token(self):
        self.ks.get('/', status=200)
        self.ks.get('/v1', status=200)
        self.ks.get('/v1/', status=200)
        self.ks.get('/v1/openapi.json', status=200)


class ParsableErrorTestCase(test_base.TestCase):

    def test_unhandled_exception_is_json_500_without_detail(self):
        def broken(environ, start_response):
            raise RuntimeError('secret internal detail')

        test_app = webtest.TestApp(
            parsable_error.ParsableErrorMiddleware(broken))
        resp = test_app.get('/', expect_errors=True)
        self.assertEqual(500, resp.status_int)
        self.assertEqual(500, resp.json['error']['code'])
        self.assertNotIn('secret', resp.text)
        self.assertNotIn('Traceback', resp.text)

    def test_html_error_becomes_json(self):
        def teapot(environ, start_response):
            start_response('409 Conflict', [('Content-Type', 'text/html')])
            return [b'<html><body><h1>409 Conflict</h1>busy</body></html>']

        test_app = webtest.TestApp(
            parsable_error.ParsableErrorMiddleware(teapot))
        resp = test_app.get('/', expect_errors=True)
        self.assertEqual({'code': 409, 'title': 'Conflict',
                          'message': 'busy'}, resp.json['error'])
