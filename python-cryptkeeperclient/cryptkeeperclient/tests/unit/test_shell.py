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

"""Tests for the standalone shell: commands, auth choices, errors."""

import importlib.metadata
import json
import os

from cliff import commandmanager
import fixtures
import yaml

from cryptkeeperclient import osc
from cryptkeeperclient import shell
from cryptkeeperclient.tests.unit import base

COMMANDS = {'job create', 'job list', 'job show', 'job cancel',
            'audit list', 'audit show', 'audit verify',
            'target list', 'target show', 'target census'}
COMMANDS |= {'purge plan', 'purge archive', 'purge purge', 'purge restore'}
COMMANDS |= {'schedule create', 'schedule list', 'schedule show',
             'schedule set', 'schedule delete'}
COMMANDS |= {'console policy create', 'console policy list',
             'console policy show', 'console policy set',
             'console policy delete', 'console log list', 'console log show'}


class EntryPointTest(base.TestCase):

    def test_openstack_and_standalone_names_load_the_same_classes(self):
        # This is how openstackclient loads a plugin's command group.
        openstack = commandmanager.CommandManager(osc.COMMAND_NAMESPACE)
        standalone = shell.CommandManager(osc.COMMAND_NAMESPACE)
        self.assertEqual({'cryptkeeper ' + c for c in COMMANDS},
                         {name for name, _ep in openstack})
        self.assertEqual(COMMANDS, {name for name, _ep in standalone})
        for name in COMMANDS:
            long_cls = openstack.find_command(
                ['cryptkeeper'] + name.split())[0]
            short_cls = standalone.find_command(name.split())[0]
            self.assertIs(long_cls, short_cls, name)

    def test_each_command_is_registered_once(self):
        dist = importlib.metadata.distribution('python-cryptkeeperclient')
        eps = dist.entry_points
        self.assertEqual({'console_scripts', 'openstack.cli.extension',
                          osc.COMMAND_NAMESPACE},
                         {ep.group for ep in eps})
        commands = [ep.value for ep in eps
                    if ep.group == osc.COMMAND_NAMESPACE]
        self.assertEqual(len(COMMANDS), len(commands))
        self.assertEqual(len(commands), len(set(commands)))

    def test_plugin_entry_point_names_the_command_namespace(self):
        dist = importlib.metadata.distribution('python-cryptkeeperclient')
        [ep] = [ep for ep in dist.entry_points
                if ep.group == 'openstack.cli.extension']
        module = ep.load()
        self.assertIs(osc, module)
        # openstackclient builds the group name the same way.
        self.assertEqual(osc.COMMAND_NAMESPACE, 'openstack.%s.v%s' % (
            module.API_NAME, module.DEFAULT_API_VERSION.split('.')[0]))


class HelpTest(base.TestCase):

    def test_help_lists_the_short_names(self):
        rc, out, err = self.run_cli('help')
        self.assertEqual(0, rc, err)
        for name in COMMANDS:
            self.assertIn(name, out)
        self.assertNotIn('cryptkeeper job', out)

    def test_command_help(self):
        rc, out, err = self.run_cli('job', 'create', '--help')
        self.assertEqual(0, rc, err)
        for option in ('--type', '--target', '--param', '--wait',
                       '--timeout'):
            self.assertIn(option, out)

    def test_help_works_with_a_missing_cloud(self):
        rc, out, err = self.run_cli('--os-cloud', 'no-such-cloud', 'help')
        self.assertEqual(0, rc, err)

    def test_password_options_are_offered(self):
        rc, out, err = self.run_cli('--help')
        self.assertEqual(0, rc, err)
        self.assertIn('--os-username', out)
        self.assertIn('--os-endpoint', out)

    def test_unknown_command(self):
        rc, out, err = self.run_cli('job', 'explode')
        self.assertNotEqual(0, rc)


class ConnectionChoiceTest(base.TestCase):

    def test_endpoint_from_the_environment(self):
        api = self.start_api()
        api.add('GET', '/v1/targets', {'targets': []})
        self.useFixture(fixtures.EnvironmentVariable('CRYPTKEEPER_ENDPOINT',
                                                     api.url))
        rc, out, err = self.run_cli('target', 'list')
        self.assertEqual(0, rc, err)
        self.assertNotIn('x-auth-token', api.calls()[0].headers)

    def test_connection_refused_is_one_line(self):
        url = 'http://127.0.0.1:%d' % base.closed_port()
        rc, out, err = self.run_cli('job', 'list', '--os-endpoint', url)
        self.assertEqual(1, rc)
        self.assertOneLineError(
            'Unable to connect to %s/v1/jobs: Connection refused' % url,
            err)

    def test_identity_refused_is_one_line(self):
        # keystoneauth also warns about failed discovery; that is noise.
        url = 'http://127.0.0.1:%d/v3' % base.closed_port()
        rc, out, err = self.run_cli(
            '--os-auth-url', url, '--os-username', 'a', '--os-password',
            'b', '--os-project-name', 'p', 'job', 'list')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            'Unable to reach the identity service: Connection refused', err)

    def test_debug_adds_the_traceback(self):
        url = 'http://127.0.0.1:%d' % base.closed_port()
        rc, out, err = self.run_cli('--debug', 'job', 'list',
                                    '--os-endpoint', url)
        self.assertEqual(1, rc)
        self.assertIn('Traceback', err)

    def test_no_credentials_and_no_endpoint(self):
        rc, out, err = self.run_cli('job', 'list')
        self.assertEqual(1, rc)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertTrue(err.startswith('ERROR: No credentials'), err)
        self.assertIn('--os-endpoint', err)

    def test_unknown_cloud_is_one_line(self):
        rc, out, err = self.run_cli('--os-cloud', 'no-such-cloud', 'job',
                                    'list')
        self.assertEqual(1, rc)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('no-such-cloud', err)


class KeystoneTest(base.TestCase):
    """Password authentication against a canned Keystone v3."""

    def setUp(self):
        super().setUp()
        self.api = self.start_api()
        url = self.api.url
        self.api.add('GET', '/v3', {'version': {
            'id': 'v3.14', 'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': url + '/v3/'}],
            'media-types': [{'base': 'application/json', 'type':
                             'application/vnd.openstack.identity-v3+json'}],
        }})
        self.api.add('POST', '/v3/auth/tokens', status=201,
                     headers={'X-Subject-Token': 'token-123'},
                     body=self._token(url))
        self.api.add('GET', '/v1/targets', {'targets': []})
        self.api.add('GET', '/internal/v1/targets', {'targets': []})

    @staticmethod
    def _token(url):
        domain = {'id': 'default', 'name': 'Default'}
        endpoints = [
            {'id': 'e1', 'interface': 'public', 'region': 'RegionOne',
             'region_id': 'RegionOne', 'url': url + '/v1'},
            {'id': 'e2', 'interface': 'internal', 'region': 'RegionOne',
             'region_id': 'RegionOne', 'url': url + '/internal/v1'},
        ]
        return {'token': {
            'methods': ['password'],
            'expires_at': '2999-01-01T00:00:00.000000Z',
            'issued_at': '2026-11-21T06:00:00.000000Z',
            'user': {'id': 'u1', 'name': 'admin', 'domain': domain},
            'project': {'id': 'p1', 'name': 'admin', 'domain': domain},
            'roles': [{'id': 'r1', 'name': 'admin'}],
            'catalog': [{'id': 's1', 'type': 'cleanup',
                         'name': 'cryptkeeper', 'endpoints': endpoints}],
        }}

    def _check_authenticated(self, path='/v1/targets'):
        [auth] = self.api.calls('POST', '/v3/auth/tokens')
        password = auth.body['auth']['identity']['password']['user']
        self.assertEqual('admin', password['name'])
        self.assertEqual('secret', password['password'])
        self.assertEqual('admin',
                         auth.body['auth']['scope']['project']['name'])
        [call] = self.api.calls('GET', path)
        self.assertEqual('token-123', call.headers['x-auth-token'])

    def test_os_environment_variables(self):
        for name, value in {'OS_AUTH_URL': self.api.url + '/v3',
                            'OS_USERNAME': 'admin',
                            'OS_PASSWORD': 'secret',
                            'OS_PROJECT_NAME': 'admin',
                            'OS_USER_DOMAIN_NAME': 'Default',
                            'OS_PROJECT_DOMAIN_NAME': 'Default'}.items():
            self.useFixture(fixtures.EnvironmentVariable(name, value))
        rc, out, err = self.run_cli('target', 'list', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual([], json.loads(out))
        self._check_authenticated()

    def test_clouds_yaml_and_interface(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'clouds.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump({'clouds': {'ck-unit': {
                'region_name': 'RegionOne',
                'auth': {'auth_url': self.api.url + '/v3',
                         'username': 'admin', 'password': 'secret',
                         'project_name': 'admin',
                         'user_domain_name': 'Default',
                         'project_domain_name': 'Default'}}}}, f)
        self.useFixture(fixtures.EnvironmentVariable('OS_CLIENT_CONFIG_FILE',
                                                     path))
        rc, out, err = self.run_cli('--os-cloud', 'ck-unit',
                                    '--os-interface', 'internal',
                                    'target', 'list')
        self.assertEqual(0, rc, err)
        self._check_authenticated('/internal/v1/targets')

    def test_endpoint_overrides_the_catalog_when_authenticated(self):
        other = self.useFixture(base.fakeapi.FakeAPI())
        other.add('GET', '/v1/targets', {'targets': []})
        rc, out, err = self.run_cli(
            '--os-auth-url', self.api.url + '/v3', '--os-username', 'admin',
            '--os-password', 'secret', '--os-project-name', 'admin',
            '--os-user-domain-name', 'Default',
            '--os-project-domain-name', 'Default',
            '--os-endpoint', other.url, 'target', 'list')
        self.assertEqual(0, rc, err)
        self.assertEqual([], self.api.calls('GET', '/v1/targets'))
        [call] = other.calls('GET', '/v1/targets')
        self.assertEqual('token-123', call.headers['x-auth-token'])

    def test_wrong_password_is_one_line(self):
        self.api.routes[('POST', '/v3/auth/tokens')] = [(401, {
            'error': {'code': 401, 'title': 'Unauthorized',
                      'message': 'The request you have made requires '
                                 'authentication.'}}, {})]
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_AUTH_URL', self.api.url + '/v3'))
        self.useFixture(fixtures.EnvironmentVariable('OS_USERNAME', 'x'))
        self.useFixture(fixtures.EnvironmentVariable('OS_PASSWORD', 'y'))
        self.useFixture(fixtures.EnvironmentVariable('OS_PROJECT_NAME',
                                                     'admin'))
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_USER_DOMAIN_NAME', 'Default'))
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_PROJECT_DOMAIN_NAME', 'Default'))
        rc, out, err = self.run_cli('target', 'list')
        self.assertEqual(1, rc)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('requires authentication', err)
