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

"""Tests for the v1 managers: pagination and waiting."""

import fixtures
from keystoneauth1 import session

from cryptkeeperclient import exceptions
from cryptkeeperclient.tests.unit import base
from cryptkeeperclient.v1 import base as manager_base
from cryptkeeperclient.v1 import client


class ManagerTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.client = client.Client(session=session.Session(),
                                    endpoint_override=self.api.url)

    def test_list_follows_next_links_with_their_query(self):
        def page(request):
            if request.query.get('marker') == 'b':
                return {'jobs': [{'id': 'c'}]}
            return {'jobs': [{'id': 'a'}, {'id': 'b'}],
                    'next': 'http://elsewhere:9779/v1/jobs?state=running'
                            '&marker=b&limit=2'}
        self.api.add('GET', '/v1/jobs', page)
        jobs = self.client.jobs.list(state='running')
        self.assertEqual(['a', 'b', 'c'], [j['id'] for j in jobs])
        calls = self.api.calls('GET', '/v1/jobs')
        self.assertEqual([{'state': 'running'},
                          {'state': 'running', 'marker': 'b',
                           'limit': '2'}],
                         [c.query for c in calls])

    def test_list_with_limit_fetches_one_page(self):
        self.api.add('GET', '/v1/jobs', {
            'jobs': [{'id': 'a'}], 'next': '/v1/jobs?marker=a&limit=1'})
        jobs = self.client.jobs.list(limit=1, sort_key='created_at',
                                     sort_dir='asc')
        self.assertEqual([{'id': 'a'}], jobs)
        self.assertEqual([{'limit': '1', 'sort_key': 'created_at',
                           'sort_dir': 'asc'}],
                         [c.query for c in self.api.calls()])

    def test_list_stops_when_next_repeats(self):
        self.api.add('GET', '/v1/audit', {
            'audit': [{'id': 1}], 'next': '/v1/audit?marker=1'})
        logger = self.useFixture(fixtures.FakeLogger())
        records = self.client.audit.list()
        self.assertEqual(2, len(records))
        self.assertEqual(2, len(self.api.calls()))
        self.assertIn('same next page twice', logger.output)

    def test_list_stops_after_max_pages(self):
        self.useFixture(fixtures.MonkeyPatch(
            'cryptkeeperclient.v1.base.MAX_PAGES', 3))

        def endless(request):
            marker = int(request.query.get('marker', 0)) + 1
            return {'audit': [{'id': marker}],
                    'next': '/v1/audit?marker=%d' % marker}
        self.api.add('GET', '/v1/audit', endless)
        logger = self.useFixture(fixtures.FakeLogger())
        records = self.client.audit.list()
        self.assertEqual([1, 2, 3], [r['id'] for r in records])
        self.assertIn('Stopped after 3 pages', logger.output)
        self.assertEqual(3, manager_base.MAX_PAGES)

    def test_list_rejects_an_answer_without_the_collection(self):
        self.api.add('GET', '/v1/targets', {'jobs': []})
        self.assertRaises(exceptions.InvalidResponse,
                          self.client.targets.list)

    def test_non_json_answer(self):
        self.api.add('GET', '/v1/audit/verify', b'OK')
        exc = self.assertRaises(exceptions.InvalidResponse,
                                self.client.audit.verify)
        self.assertIn('not JSON', str(exc))

    def test_ids_cannot_escape_their_path(self):
        self.api.add('GET', '/v1/targets/a%2F..%2Fb', {'name': 'x'})
        self.client.targets.get('a/../b')
        self.assertEqual(1, len(self.api.calls('GET')))

    def test_create_sends_params_only_when_given(self):
        self.api.add('POST', '/v1/jobs', base.job(), status=202)
        self.client.jobs.create('census', 'nova')
        self.client.jobs.create('census', 'nova', params={'a': 1})
        bodies = [c.body for c in self.api.calls('POST')]
        self.assertEqual([{'type': 'census', 'target': 'nova'},
                          {'type': 'census', 'target': 'nova',
                           'params': {'a': 1}}], bodies)


class WaitTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.client = client.Client(session=session.Session(),
                                    endpoint_override=self.api.url)
        self.path = '/v1/jobs/%s' % base.JOB_ID
        self.sleeps = []

    def wait(self, **kwargs):
        seen = []
        job = self.client.jobs.wait(base.JOB_ID, on_change=seen.append,
                                    sleep=self.sleeps.append, **kwargs)
        return job, seen

    def test_reports_changes_until_terminal(self):
        self.api.add('GET', self.path, base.job('pending'))
        self.api.add('GET', self.path, base.job('running'))
        self.api.add('GET', self.path, base.job('running'))
        self.api.add('GET', self.path, base.job('running',
                                                progress={'tables': 3}))
        self.api.add('GET', self.path, base.job('succeeded'))
        job, seen = self.wait(interval=5)
        self.assertEqual('succeeded', job['state'])
        self.assertEqual(['pending', 'running', 'running', 'succeeded'],
                         [j['state'] for j in seen])
        self.assertEqual([5, 5, 5, 5], self.sleeps)

    def test_timeout(self):
        self.api.add('GET', self.path, base.job('running'))
        now = [100.0]

        def clock():
            return now[0]

        def sleep(seconds):
            now[0] += seconds
        exc = self.assertRaises(
            exceptions.WaitTimeout, self.client.jobs.wait, base.JOB_ID,
            timeout=5, interval=2, clock=clock, sleep=sleep)
        self.assertEqual('Timed out after 5 seconds waiting for job %s '
                         '(state: running)' % base.JOB_ID, str(exc))
        self.assertEqual(105.0, now[0])
