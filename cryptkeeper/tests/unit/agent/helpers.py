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

"""A real API over real HTTP, on the test's SQLite, for the agent tests."""

import os
import threading

import fixtures
import requests

from cryptkeeper.agent import service
from cryptkeeper.api import app
from cryptkeeper.cmd import api as cmd_api
from cryptkeeper.common import policy
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.consolelog import helpers as cl_helpers

KiB = 1 << 10
MiB = 1 << 20
HOST = 'c01'


class ApiServer(fixtures.Fixture):
    """cryptkeeper's WSGI app in a thread, listening on 127.0.0.1.

    The same app and middleware as cryptkeeper-api, so the agent's
    keystoneauth1 session speaks real HTTP to it.
    """

    def __init__(self, auth_strategy='noauth'):
        super().__init__()
        self.auth_strategy = auth_strategy

    def _setUp(self):
        self.server = cmd_api.make_server(
            '127.0.0.1', 0, app.setup_app(self.auth_strategy))
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]

    def call(self, method, path, expect=200, **kwargs):
        resp = requests.request(method, self.url + path, timeout=30,
                                **kwargs)
        if expect is not None:
            assert resp.status_code == expect, (resp.status_code, resp.text)
        return resp.json() if resp.content else None


class AgentTestCase(base.DbTestCase):
    """An instances directory, a running API and an agent configured."""

    def setUp(self):
        super().setUp()
        policy.reset()
        self.addCleanup(policy.reset)
        self.api = self.useFixture(ApiServer())
        self.root = self.useFixture(fixtures.TempDir()).path
        self.outside = self.useFixture(fixtures.TempDir()).path
        self.ignore = cl_helpers.unreadable_pids()
        self.config(host=HOST, instances_path=self.root,
                    api_endpoint=self.api.url, interval=1,
                    ignore_pids=list(self.ignore),
                    runaway_bytes_per_hour=1 << 40, group='agent')

    def agent(self, **kw):
        return service.Agent(**kw)

    def make_log(self, instance=cl_helpers.UUID, data=None):
        path = cl_helpers.make_instance(self.root, instance, data)
        return os.path.join(path, 'console.log')

    def policy(self, expect=201, **body):
        body.setdefault('name', 'p-%s' % body.get('scope', {}).get(
            'kind', 'global'))
        body.setdefault('max_bytes', MiB)
        body.setdefault('keep_bytes', 256 * KiB)
        return self.api.call('POST', '/v1/console-policies', expect=expect,
                             json=body)

    def log_of(self, instance=cl_helpers.UUID):
        return self.api.call('GET', '/v1/console-logs/%s' % instance)

    def audit(self, action=None):
        params = {'limit': 1000}
        if action:
            params['action'] = action
        return self.api.call('GET', '/v1/audit', params=params)['audit']
