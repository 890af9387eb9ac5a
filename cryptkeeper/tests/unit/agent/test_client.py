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

"""The agent's API client over real HTTP."""

import json

import fixtures
from keystoneauth1.identity import generic
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from cryptkeeper.agent import client
from cryptkeeper import conf
from cryptkeeper.conf import agent as agent_conf
from cryptkeeper.conf import service_credentials
from cryptkeeper.tests.unit.agent import helpers


def entry(i):
    return {'instance': '00000000-0000-4000-8000-%012d' % i,
            'measured_at': '2026-03-01T12:00:00Z', 'present': True,
            'apparent_bytes': i, 'allocated_bytes': i,
            'problems': ['p' * 100]}


class ChunksTestCase(helpers.base.TestCase):

    def test_chunks_stay_under_the_limit_in_order(self):
        entries = [entry(i) for i in range(50)]
        chunks = list(client.chunks(entries, 2048))
        self.assertGreater(len(chunks), 1)
        self.assertEqual(entries, [e for c in chunks for e in c])
        for chunk in chunks:
            body = json.dumps({'runaway_bytes_per_hour': 1,
                               'console_logs': chunk})
            self.assertLessEqual(len(body), 2048)

    def test_oversize_entry_goes_alone(self):
        big = dict(entry(1), problems=['x' * 5000])
        chunks = list(client.chunks([entry(0), big, entry(2)], 2048))
        self.assertEqual([[entry(0)], [big], [entry(2)]], chunks)


class ClientTestCase(helpers.AgentTestCase):

    def client(self, endpoint=None):
        return client.Client(ks_session.Session(),
                             endpoint=endpoint or self.api.url)

    def test_report_in_several_requests(self):
        api = self.client()
        entries = [entry(i) for i in range(1, 40)]
        self.assertEqual((39, 0), api.report_console_logs(
            helpers.HOST, entries, 10, 4096))
        logs = self.api.call('GET', '/v1/console-logs?limit=1000')
        self.assertEqual(39, len(logs['console_logs']))

    def test_versioned_endpoint_and_quoting(self):
        api = self.client(self.api.url + '/v1/')
        self.assertEqual([], api.console_policies('c01'))
        agent = api.heartbeat('host with space', ['consolelog'], {})
        self.assertEqual('host with space', agent['host'])

    def test_errors_carry_status_and_message(self):
        api = self.client()
        exc = self.assertRaises(client.ApiError, api.report_console_logs,
                                'c01', [{'instance': 'x'}], None, 4096)
        self.assertEqual(400, exc.status)
        self.assertIn('instance must be a UUID', str(exc))
        port = self.api.server.server_address[1]
        self.api.server.shutdown()
        self.api.server.server_close()
        dead = client.Client(ks_session.Session(),
                             endpoint='http://127.0.0.1:%d' % port)
        dead.adapter.connect_retries = 0
        exc = self.assertRaises(client.ApiError, dead.console_policies, 'c')
        self.assertIsNone(exc.status)

    def test_from_conf_with_service_credentials(self):
        # A private configuration, read from a file as a deployer writes
        # it: keystoneauth1 registers the password plugin's options (one
        # of them required) once auth_type names it, and they must not
        # reach the global CONF. Groups by name, not the shared OptGroup
        # objects, whose option lists the global CONF would see.
        path = self.useFixture(fixtures.TempDir()).join('agent.conf')
        with open(path, 'w') as f:
            f.write('[service_credentials]\nauth_type = password\n'
                    'auth_url = http://ks.example/v3\n'
                    'username = cryptkeeper\npassword = secret\n'
                    'project_name = service\nuser_domain_name = Default\n'
                    'project_domain_name = Default\nregion_name = R1\n'
                    'interface = public\n')
        own = cfg.ConfigOpts()
        group = service_credentials.GROUP
        own.register_opts(agent_conf.opts, group='agent')
        own.register_opts(service_credentials.opts, group=group)
        ks_loading.register_session_conf_options(own, group)
        ks_loading.register_auth_conf_options(own, group)
        own(['--config-file', path], default_config_files=[])
        api = client.Client.from_conf(own)
        self.assertIsInstance(api.adapter.session.auth, generic.Password)
        self.assertEqual('http://ks.example/v3',
                         api.adapter.session.auth.auth_url)
        self.assertEqual(('cleanup', 'public', 'R1', None),
                         (api.adapter.service_type, api.adapter.interface,
                          api.adapter.region_name,
                          api.adapter.endpoint_override))
        self.assertNotIn('auth_url', conf.CONF.service_credentials)

    def test_from_conf_quickstart(self):
        api = client.Client.from_conf(conf.CONF)
        self.assertIsNone(api.adapter.session.auth)
        self.assertEqual([], api.console_policies('c01'))
