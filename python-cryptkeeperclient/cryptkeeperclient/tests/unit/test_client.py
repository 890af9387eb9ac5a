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

"""Tests for SessionClient over real HTTP to a canned server."""

from keystoneauth1 import session

from cryptkeeperclient import client
from cryptkeeperclient import exceptions
from cryptkeeperclient.tests.unit import base


class SessionClientTest(base.APITestCase):

    def make(self, endpoint):
        return client.SessionClient(session.Session(),
                                    endpoint_override=endpoint)

    def test_get_sends_accept_json_and_no_token(self):
        self.api.add('GET', '/v1/targets', {'targets': []})
        resp = self.make(self.api.url).get('/v1/targets')
        self.assertEqual({'targets': []}, resp.json())
        sent = self.api.calls('GET', '/v1/targets')[0]
        self.assertEqual('application/json', sent.headers['accept'])
        self.assertNotIn('x-auth-token', sent.headers)
        self.assertIn('python-cryptkeeperclient',
                      sent.headers['user-agent'])

    def test_versioned_endpoint_is_reduced_to_the_root(self):
        self.api.add('GET', '/v1/targets', {'targets': []})
        for endpoint in (self.api.url + '/v1', self.api.url + '/v1/',
                         self.api.url + '/'):
            self.make(endpoint).get('/v1/targets')
        self.assertEqual(3, len(self.api.calls('GET', '/v1/targets')))

    def test_endpoint_path_prefix_is_kept(self):
        self.api.add('GET', '/cleanup/v1/jobs', {'jobs': []})
        self.make(self.api.url + '/cleanup/v1').get('/v1/jobs')
        self.assertEqual(1, len(self.api.calls('GET', '/cleanup/v1/jobs')))

    def test_error_response_raises_with_server_message(self):
        self.api.add('GET', '/v1/jobs/1234', status=404, body={
            'error': {'code': 404, 'title': 'Not Found',
                      'message': 'Job 1234 could not be found'}})
        exc = self.assertRaises(exceptions.NotFound,
                                self.make(self.api.url).get,
                                '/v1/jobs/1234')
        self.assertEqual('404 Not Found: Job 1234 could not be found',
                         str(exc))
        self.assertEqual('GET', exc.method)

    def test_connection_refused_is_one_short_line(self):
        url = 'http://127.0.0.1:%d' % base.closed_port()
        exc = self.assertRaises(exceptions.ConnectionError,
                                self.make(url).get, '/v1/jobs')
        self.assertEqual(
            'Unable to connect to %s/v1/jobs: Connection refused' % url,
            str(exc))

    def test_no_endpoint_at_all(self):
        adapter = client.SessionClient(session.Session())
        self.assertRaises(exceptions.EndpointNotFound, adapter.get,
                          '/v1/jobs')
