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

"""Base test case: a clean environment and a way to run the CLI."""

import io
import logging
import os
import socket

import fixtures
import testtools

from cryptkeeperclient import shell
from cryptkeeperclient.tests.unit import fakeapi

JOB_ID = '5ad0c7f4-3d0b-4a63-9f3e-1b2c3d4e5f60'


def job(state='pending', **fields):
    """A job as the API returns it."""
    body = {
        'id': JOB_ID, 'type': 'census', 'target': 'nova', 'state': state,
        'params': {}, 'progress': {}, 'result': None,
        'created_at': '2026-11-21T06:00:00Z',
        'updated_at': '2026-11-21T06:00:00Z',
        'started_at': None, 'finished_at': None,
        'created_by': 'admin-user', 'project_id': 'admin-project',
        'request_id': 'req-1', 'cancel_requested': False,
        'links': [{'rel': 'self', 'href': '/v1/jobs/%s' % JOB_ID}],
    }
    body.update(fields)
    return body


def closed_port():
    """A local port nothing listens on, so connecting is refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class TestCase(testtools.TestCase):
    """Keeps the caller's OpenStack settings and log handlers out."""

    def setUp(self):
        super().setUp()
        for name in list(os.environ):
            if name.startswith('OS_') or name == 'CRYPTKEEPER_ENDPOINT':
                self.useFixture(fixtures.EnvironmentVariable(name))
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        self.addCleanup(setattr, root, 'handlers', handlers)
        self.addCleanup(root.setLevel, level)
        for name in shell.CryptkeeperShell.QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self.addCleanup(logger.setLevel, logger.level)

    def start_api(self):
        """Start a FakeAPI and return it."""
        return self.useFixture(fakeapi.FakeAPI())

    def run_cli(self, *argv):
        """Run the cryptkeeper command in-process: (rc, stdout, stderr)."""
        stdout, stderr = io.StringIO(), io.StringIO()
        app = shell.CryptkeeperShell(list(argv), stdout=stdout,
                                     stderr=stderr)
        try:
            # argparse writes usage errors to sys.stderr, not app.stderr.
            with fixtures.MonkeyPatch('sys.stderr', stderr):
                rc = app.run(list(argv))
        except SystemExit as exc:
            # argparse exits on a usage error and on --help, as for real.
            rc = 0 if exc.code is None else exc.code
        return rc, stdout.getvalue(), stderr.getvalue()

    def run_api_cli(self, api, *argv):
        """Run the CLI against a FakeAPI without authentication."""
        return self.run_cli(*argv, '--os-endpoint', api.url)

    def assertOneLineError(self, expected, stderr):
        self.assertEqual('ERROR: %s\n' % expected, stderr)


class APITestCase(TestCase):
    """A test with a FakeAPI of its own, as ``self.api``."""

    def setUp(self):
        super().setUp()
        self.api = self.start_api()
