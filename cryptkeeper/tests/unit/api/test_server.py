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

"""The WSGI module and the standalone cryptkeeper-api server."""

import importlib
import os
import sys
import threading
from unittest import mock

import requests

from cryptkeeper.api import app
from cryptkeeper.cmd import api as cmd_api
from cryptkeeper import conf
from cryptkeeper.tests.unit.api import base

CONF = conf.CONF


class WSGIModuleTestCase(base.APITestCase):

    def test_config_from_env_and_never_from_argv(self):
        path = os.path.join(self.conf_fixture.state_path, 'ck.conf')
        with open(path, 'w') as f:
            f.write('[api]\nauth_strategy = noauth\nport = 12345\n')
        # Forget the fixture's parse so the module parses as a server
        # would at start-up.
        CONF.clear()
        sys.modules.pop('cryptkeeper.wsgi.api', None)
        # uWSGI's own options would make oslo.config exit if parsed.
        argv = ['uwsgi', '--http-socket', ':9090', '--module', 'x']
        with mock.patch.object(sys, 'argv', argv), \
                mock.patch.dict(os.environ,
                                {'CRYPTKEEPER_CONFIG_FILE': path}):
            wsgi_api = importlib.import_module('cryptkeeper.wsgi.api')
        self.addCleanup(sys.modules.pop, 'cryptkeeper.wsgi.api', None)
        self.assertEqual(12345, CONF.api.port)
        self.assertEqual([path], CONF.config_file)
        status = []
        body = wsgi_api.application(
            {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/', 'SERVER_NAME': 'h',
             'SERVER_PORT': '80', 'wsgi.url_scheme': 'http',
             'wsgi.input': None},
            lambda s, h, e=None: status.append(s))
        self.assertEqual(['200 OK'], status)
        self.assertIn(b'"v1"', b''.join(body))


class StandaloneServerTestCase(base.APITestCase):

    def test_listen_host(self):
        self.assertEqual('127.0.0.1', cmd_api.listen_host())
        self.config(auth_strategy='keystone', group='api')
        self.assertEqual('0.0.0.0', cmd_api.listen_host())
        self.config(host='192.0.2.5', group='api')
        self.assertEqual('192.0.2.5', cmd_api.listen_host())

    def test_serves_requests_in_threads(self):
        server = cmd_api.make_server('127.0.0.1', 0,
                                     app.setup_app('noauth'))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = 'http://127.0.0.1:%d/v1/jobs' % server.server_address[1]
        resp = requests.get(url, timeout=30)
        self.assertEqual(200, resp.status_code)
        self.assertTrue(resp.headers['x-openstack-request-id'])
        self.assertEqual({'jobs': []}, resp.json())
