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

"""Tests for the openstackclient plugin module."""

import argparse

import fixtures
from keystoneauth1 import session

from cryptkeeperclient import osc
from cryptkeeperclient.tests.unit import base
from cryptkeeperclient.v1 import client as v1_client


class FakeClientManager:
    """Just the attributes openstackclient's ClientManager offers us."""

    def __init__(self, config):
        self._api_version = {'cleanup': '1'}
        self._config = config
        self.session = session.Session()
        self.interface = 'internal'
        self.region_name = 'RegionTwo'

    def get_configuration(self):
        return dict(self._config)


class OSCPluginTest(base.TestCase):

    def test_plugin_attributes(self):
        self.assertEqual('cleanup', osc.API_NAME)
        self.assertEqual('os_cleanup_api_version', osc.API_VERSION_OPTION)
        self.assertEqual({'1': 'cryptkeeperclient.v1.client.Client'},
                         osc.API_VERSIONS)

    def test_make_client_uses_the_shared_session(self):
        manager = FakeClientManager({})
        client = osc.make_client(manager)
        self.assertIsInstance(client, v1_client.Client)
        self.assertIs(manager.session, client.http_client.session)
        self.assertEqual('internal', client.http_client.interface)
        self.assertEqual('RegionTwo', client.http_client.region_name)
        self.assertEqual('cleanup', client.http_client.service_type)
        self.assertIsNone(client.http_client.endpoint_override)

    def test_make_client_honours_clouds_yaml_endpoint_override(self):
        api = self.start_api()
        api.add('GET', '/v1/targets', {'targets': []})
        client = osc.make_client(FakeClientManager(
            {'cleanup_endpoint_override': api.url}))
        self.assertEqual([], client.targets.list())

    def test_build_option_parser(self):
        parser = osc.build_option_parser(argparse.ArgumentParser())
        self.assertEqual('1', parser.parse_args([]).os_cleanup_api_version)
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_CLEANUP_API_VERSION', '2'))
        parser = osc.build_option_parser(argparse.ArgumentParser())
        self.assertEqual('2', parser.parse_args([]).os_cleanup_api_version)
