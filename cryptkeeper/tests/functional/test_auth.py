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

"""Authentication and policy of the real API, with real Keystone tokens."""

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid

import fixtures
import requests
import testtools.content

from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import keystone
from cryptkeeper.tests.local_fixtures import processes

# Routes that answer without a token: version discovery and the API
# description.
PUBLIC = {('GET', '/'), ('GET', '/v1'), ('GET', '/v1/'),
          ('GET', '/v1/openapi.json')}
METHODS = ('get', 'post', 'put', 'patch', 'delete')
START_TIMEOUT = 60
HTTP_TIMEOUT = 30


class ApiError(Exception):
    """cryptkeeper-api could not be set up or started."""


def _make_demo_target(path):
    # A tiny oslo.db-style schema with soft-deleted rows, so a census job
    # has something real to look at.
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute('CREATE TABLE widgets (id INTEGER PRIMARY KEY, '
                   'created_at DATETIME, deleted_at DATETIME, '
                   'deleted INTEGER NOT NULL DEFAULT 0)')
        db.executemany(
            'INSERT INTO widgets (created_at, deleted_at, deleted) '
            'VALUES (?, ?, ?)',
            [('2020-01-01 00:00:00', None, 0),
             ('2020-01-01 00:00:00', '2021-01-01 00:00:00', 1),
             ('2020-01-01 00:00:00', '2021-01-01 00:00:00', 2)])
        db.commit()


class CryptkeeperApi(fixtures.Fixture):
    """cryptkeeper-api in a subprocess, authenticating against Keystone."""

    def __init__(self, keystone_fixture):
        super().__init__()
        self.keystone = keystone_fixture

    def _setUp(self):
        self.workdir = tempfile.mkdtemp(prefix='cryptkeeper-api-')
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.log_path = os.path.join(self.workdir, 'api.log')
        self.port = processes.free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.config_file = self._write_config()
        self._run(processes.command('cryptkeeper-manage') + [
            '--config-file', self.config_file, 'db', 'sync'],
            'cryptkeeper-manage db sync')
        self.keystone.register_endpoint(self.url)
        self._serve()

    def _write_config(self):
        d = self.workdir
        state = os.path.join(d, 'state')
        os.makedirs(state)
        demo = os.path.join(d, 'demo.sqlite')
        _make_demo_target(demo)
        lines = ['[DEFAULT]', f'state_path = {state}', 'targets = demo',
                 '[api]', 'host = 127.0.0.1', f'port = {self.port}',
                 'auth_strategy = keystone',
                 '[database]',
                 f'connection = sqlite:///{d}/cryptkeeper.sqlite',
                 # A worker started by a test picks a job up at once.
                 '[worker]', 'poll_interval = 0.2',
                 '[target:demo]', 'profile = generic',
                 f'connection = sqlite:///{demo}',
                 '[keystone_authtoken]']
        lines += [f'{k} = {v}' for k, v in
                  self.keystone.keystone_authtoken_options().items()]
        path = os.path.join(d, 'cryptkeeper.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def _tail(self):
        return (f'--- {self.log_path} (tail) ---\n'
                f'{keystone.log_tail(self.log_path)}')

    def _run(self, cmd, what):
        with open(self.log_path, 'ab') as log:
            log.write(('\n$ {}\n'.format(' '.join(cmd))).encode())
            log.flush()
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, timeout=300,
                                cwd=self.workdir, env=processes.clean_env(),
                                check=False).returncode
        if rc != 0:
            raise ApiError(f'{what} exited {rc}\n{self._tail()}')

    def _serve(self):
        cmd = processes.command('cryptkeeper-api') + [
            '--config-file', self.config_file]
        self.process = processes.start(cmd, self.log_path, self.workdir)
        self.addCleanup(processes.stop, self.process)
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ApiError(f'cryptkeeper-api exited '
                               f'{self.process.returncode}\n{self._tail()}')
            try:
                requests.get(self.url + '/', timeout=5)
                return
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.2)
        raise ApiError(f'cryptkeeper-api did not answer on {self.url} within '
                       f'{START_TIMEOUT} s ({last})\n{self._tail()}')


class CryptkeeperWorker(fixtures.Fixture):
    """cryptkeeper-worker in a subprocess, on the API's configuration."""

    def __init__(self, api):
        super().__init__()
        self.api = api

    def _setUp(self):
        self.log_path = os.path.join(self.api.workdir, 'worker.log')
        cmd = processes.command('cryptkeeper-worker') + [
            '--config-file', self.api.config_file]
        self.process = processes.start(cmd, self.log_path, self.api.workdir)
        self.addCleanup(processes.stop, self.process)
        self.addDetail('worker-log', testtools.content.content_from_file(
            self.log_path, buffer_now=False))


class TestAuth(base.TestCase):
    """Every route of the OpenAPI document, tried as each persona.

    cryptkeeper-api runs as a subprocess behind keystonemiddleware,
    configured as a deployer would. One Keystone and one API serve the
    whole class: each costs seconds to start.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keystone = keystone.start_outside_test(keystone.KeystoneFixture())
        try:
            cls.api = keystone.start_outside_test(
                CryptkeeperApi(cls.keystone))
        except BaseException:
            cls.keystone.cleanUp()
            raise
        cls.tokens = {name: cls.keystone.token_for(name)
                      for name in ('admin', 'member', 'auditor')}

    @classmethod
    def tearDownClass(cls):
        try:
            cls.api.cleanUp()
        finally:
            cls.keystone.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addOnException(self._attach_logs)

    def _attach_logs(self, exc_info):
        # The services' logs go with their temp dir at class teardown.
        self.addDetail('cryptkeeper-api-log', testtools.content.text_content(
            keystone.log_tail(self.api.log_path, 200)))
        self.addDetail('keystone-log', testtools.content.text_content(
            keystone.log_tail(self.keystone.log_path, 100)))

    # -- helpers -----------------------------------------------------------

    def request(self, method, path, token=None, body=None, **kwargs):
        headers = {'Accept': 'application/json'}
        if token is not None:
            headers['X-Auth-Token'] = token
        if body is not None:
            kwargs['json'] = body
        return requests.request(method, self.api.url + path,
                                headers=headers, timeout=HTTP_TIMEOUT,
                                **kwargs)

    def admin(self, method, path, body=None, expect=200, **kwargs):
        resp = self.request(method, path, self.tokens['admin'], body,
                            **kwargs)
        self.assertEqual(expect, resp.status_code,
                         f'{method} {path} as admin: {resp.text}')
        return resp.json()

    def create_job(self):
        return self.admin('POST', '/v1/jobs',
                          {'type': 'census', 'target': 'demo'}, expect=202)

    def routes(self):
        """(method, template) of every route in the OpenAPI document."""
        doc = self.admin('GET', '/v1/openapi.json')
        found = sorted((m.upper(), path)
                       for path, item in doc['paths'].items()
                       for m in item if m in METHODS)
        self.assertNotEqual([], found)
        return found

    def protected_routes(self):
        routes = [r for r in self.routes() if r not in PUBLIC]
        # The document lists jobs, audit and targets, reads and writes; a
        # shorter list means the walk below would prove little.
        self.assertGreaterEqual(len(routes), 8, routes)
        return routes

    def fill(self, template, ids):
        """Replace path parameters with ids of resources that exist."""
        parts = []
        segments = template.split('/')
        for i, segment in enumerate(segments):
            if segment.startswith('{') and segment.endswith('}'):
                collection = segments[i - 1]
                if collection not in ids:
                    self.fail(f'no value for {segment} in {template}: '
                              f'teach this test about /{collection}')
                segment = str(ids[collection])
            parts.append(segment)
        return '/'.join(parts)

    def existing_ids(self):
        job = self.create_job()
        audit = self.admin('GET', '/v1/audit', params={'limit': 1})['audit']
        self.assertNotEqual([], audit, 'creating a job wrote no audit record')
        # Every id-bearing route must find its resource, so the walk
        # proves the policy check and not a 404. Names are unique per
        # resource and each walk creates its own.
        tag = uuid.uuid4().hex[:12]
        schedule = self.admin('POST', '/v1/schedules', {
            'name': 'walk-%s' % tag, 'cron': '0 3 * * *',
            'job': {'type': 'purge', 'target': 'demo',
                    'params': {'mode': 'plan', 'older_than': 30}}},
            expect=201)
        policy = self.admin('POST', '/v1/console-policies', {
            'name': 'walk-%s' % tag,
            'scope': {'kind': 'host', 'value': 'walk-%s' % tag},
            'max_bytes': 1024 * 1024, 'keep_bytes': 1024}, expect=201)
        # Admin may speak for an agent, as the agent routes allow.
        host = 'walk-host-%s' % tag
        instance = str(uuid.uuid4())
        self.admin('POST', '/v1/agents/%s/heartbeat' % host,
                   {'version': 'test', 'tasks': ['consolelog']})
        self.admin('POST', '/v1/agents/%s/console-logs' % host, {
            'console_logs': [{'instance': instance, 'present': True,
                              'apparent_bytes': 10,
                              'allocated_bytes': 4096,
                              'measured_at': '2026-11-21T10:00:00Z'}]})
        return {'jobs': job['id'], 'audit': audit[0]['id'],
                'targets': 'demo', 'schedules': schedule['id'],
                'console-policies': policy['id'],
                'console-logs': instance, 'agents': host}

    @staticmethod
    def body_for(method, path):
        if method == 'PATCH':
            return {}
        if method != 'POST':
            return None
        if path == '/v1/jobs':
            return {'type': 'census', 'target': 'demo'}
        return {}

    @staticmethod
    def params_for(method, path):
        if path == '/v1/console-policies/effective':
            return {'instance': str(uuid.uuid4())}
        return None

    def walk(self, token):
        """{(method, template): response} for every protected route."""
        ids = self.existing_ids()
        results = {}
        for method, template in self.protected_routes():
            path = self.fill(template, ids)
            results[(method, template)] = self.request(
                method, path, token, self.body_for(method, template),
                params=self.params_for(method, template))
        return results

    def assertStatusEverywhere(self, expected, results, who):
        wrong = {f'{m} {p}': f'{r.status_code} {r.text[:200]}'
                 for (m, p), r in results.items()
                 if r.status_code != expected}
        self.assertEqual({}, wrong,
                         f'{who}: routes not answering {expected}')

    def jobs_count(self):
        return len(self.admin('GET', '/v1/jobs',
                              params={'limit': 1000})['jobs'])

    # -- tests -------------------------------------------------------------

    def test_no_token_is_401_everywhere(self):
        results = self.walk(None)
        self.assertStatusEverywhere(401, results, 'no token')
        for (method, path), resp in results.items():
            self.assertIn('WWW-Authenticate', resp.headers, path)
            self.assertEqual(401, resp.json()['error']['code'],
                             f'{method} {path}: {resp.text}')

    def test_bad_tokens_are_401_everywhere(self):
        self.assertStatusEverywhere(401, self.walk('gAAAAABnot-a-token'),
                                    'garbage token')
        # A real token, revoked before its first use (the middleware caches
        # tokens it has already validated).
        revoked = self.keystone.token_for('admin')
        self.keystone.session_for('admin').delete(
            self.keystone.auth_url + '/auth/tokens',
            headers={'X-Subject-Token': revoked})
        self.assertStatusEverywhere(401, self.walk(revoked), 'revoked token')

    def test_member_is_forbidden_everywhere(self):
        before = self.jobs_count()
        results = self.walk(self.tokens['member'])
        self.assertStatusEverywhere(403, results, 'project member')
        for (method, path), resp in results.items():
            error = resp.json().get('error', {})
            self.assertEqual(403, error.get('code'),
                             f'{method} {path}: {resp.text}')
            self.assertNotIn('Traceback', resp.text)
        # walk() creates one job as admin; the member's POST created none.
        self.assertEqual(before + 1, self.jobs_count())

    def test_service_user_cannot_read_jobs_or_audit(self):
        # The service role is for agent reports, not for reading.
        token = self.keystone.token_for('service')
        for path in ('/v1/jobs', '/v1/audit'):
            self.assertEqual(403, self.request('GET', path,
                                               token).status_code, path)

    def test_auditor_reads_but_does_not_write(self):
        results = self.walk(self.tokens['auditor'])
        reads = {k: v for k, v in results.items() if k[0] == 'GET'}
        writes = {k: v for k, v in results.items() if k[0] != 'GET'}
        self.assertNotEqual({}, reads)
        self.assertNotEqual({}, writes)
        # No worker runs here, so there is no census result yet.
        census = {k: v for k, v in reads.items()
                  if k[1].endswith('/census') and v.status_code == 404}
        self.assertStatusEverywhere(
            200, {k: v for k, v in reads.items() if k not in census},
            'system reader, reads')
        self.assertStatusEverywhere(403, writes, 'system reader, writes')

    def test_admin_creates_shows_and_cancels_a_census_job(self):
        job = self.create_job()
        self.assertEqual('census', job['type'])
        self.assertEqual('demo', job['target'])
        self.assertIn(job['state'], ('pending', 'running'))
        self.assertEqual(self.keystone.admin.user_id, job['created_by'])
        shown = self.admin('GET', f"/v1/jobs/{job['id']}")
        self.assertEqual(job['id'], shown['id'])
        listed = self.admin('GET', '/v1/jobs', params={'limit': 1000})
        self.assertIn(job['id'], [j['id'] for j in listed['jobs']])
        cancelled = self.admin('POST', f"/v1/jobs/{job['id']}/cancel",
                               expect=202)
        self.assertEqual(job['id'], cancelled['id'])
        self.assertTrue(cancelled['cancel_requested']
                        or cancelled['state'] == 'cancelled', cancelled)

    def test_forbidden_request_is_audited(self):
        resp = self.request('POST', '/v1/jobs', self.tokens['member'],
                            {'type': 'census', 'target': 'demo'})
        self.assertEqual(403, resp.status_code, resp.text)
        records = self.admin('GET', '/v1/audit', params={
            'outcome': 'denied', 'user_id': self.keystone.member.user_id,
            'action': 'job.create'})['audit']
        self.assertNotEqual([], records)
        record = records[-1]
        self.assertEqual('denied', record['outcome'])
        self.assertEqual(self.keystone.member.user_id, record['user_id'])
        self.assertEqual(self.keystone.member.project_id,
                         record['project_id'])
        self.assertEqual('cryptkeeper:job:create', record['reason'])
        verify = self.admin('GET', '/v1/audit/verify')
        self.assertTrue(verify['valid'], verify)

    def test_request_id_on_refused_and_failed_requests(self):
        for token, status in ((None, 401), (self.tokens['member'], 403)):
            resp = self.request('GET', '/v1/jobs', token)
            self.assertEqual(status, resp.status_code)
            self.assertTrue(
                resp.headers.get('x-openstack-request-id', '').startswith(
                    'req-'), f'{status}: {dict(resp.headers)}')

    # -- the command-line client, with real tokens ---------------------------

    def cli(self, persona, *args, program=('cryptkeeper',), **env):
        """Run ``cryptkeeper`` authenticated as a persona through OS_*.

        No --os-endpoint: the client finds the API in Keystone's catalog.
        """
        env = processes.clean_env(**{**self.keystone.os_environ(persona),
                                     **env})
        command = processes.command(program[0]) + list(program[1:])
        return subprocess.run(command + list(args),
                              capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120,
                              check=False)

    def assertCliRefused(self, proc, status, message):
        self.assertNotEqual(0, proc.returncode, proc.stdout)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(1, len(lines), proc.stderr)
        self.assertIn(str(status), lines[0])
        self.assertIn(message, lines[0])

    def test_cli_admin_creates_and_shows_a_job(self):
        proc = self.cli('admin', 'job', 'create', '--type', 'census',
                        '--target', 'demo', '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        job = json.loads(proc.stdout)
        self.assertEqual(('census', 'demo', self.keystone.admin.user_id),
                         (job['type'], job['target'], job['created_by']))
        proc = self.cli('admin', 'job', 'show', job['id'], '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual(job['id'], json.loads(proc.stdout)['id'])

    def test_cli_member_and_auditor_are_refused_writes(self):
        for persona in ('member', 'auditor'):
            proc = self.cli(persona, 'job', 'create', '--type', 'census',
                            '--target', 'demo')
            self.assertCliRefused(proc, 403, 'cryptkeeper:job:create')
        self.assertCliRefused(self.cli('member', 'job', 'list'), 403,
                              'cryptkeeper:job:get_all')

    def test_cli_auditor_verifies_the_audit_log(self):
        proc = self.cli('auditor', 'audit', 'verify', '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertTrue(json.loads(proc.stdout)['valid'], proc.stdout)

    def test_openstack_client_plugin_runs_the_same_commands(self):
        # The same registration as the standalone command, loaded by the
        # real openstackclient: the plugin is not a second implementation.
        osc = ('openstack', 'cryptkeeper')
        proc = self.cli('admin', 'job', 'create', '--type', 'census',
                        '--target', 'demo', '-f', 'json', program=osc)
        self.assertEqual(0, proc.returncode, proc.stderr)
        job = json.loads(proc.stdout)
        self.assertEqual(self.keystone.admin.user_id, job['created_by'])
        proc = self.cli('auditor', 'audit', 'verify', '-f', 'json',
                        program=osc)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertTrue(json.loads(proc.stdout)['valid'], proc.stdout)
        proc = self.cli('member', 'job', 'list', program=osc)
        self.assertNotEqual(0, proc.returncode, proc.stdout)
        self.assertIn('403', proc.stderr)

    def test_cli_wrong_password_is_refused(self):
        proc = self.cli('admin', 'job', 'list', OS_PASSWORD='wrong')
        self.assertCliRefused(proc, 401, 'authentication')

    def test_cli_census_job_run_by_a_worker(self):
        self.useFixture(CryptkeeperWorker(self.api))
        proc = self.cli('admin', 'job', 'create', '--type', 'census',
                        '--target', 'demo', '--wait', '--timeout', '60',
                        '--poll-interval', '0.2', '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        job = json.loads(proc.stdout)
        self.assertEqual('succeeded', job['state'], proc.stdout)
        proc = self.cli('auditor', 'target', 'census', 'demo', '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('widgets', proc.stdout)
