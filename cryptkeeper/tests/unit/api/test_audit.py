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

"""/v1/audit: list, filters, pages, show, verify; never changed."""

import datetime

from cryptkeeper.audit import records
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.unit.api import base


class AuditTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.jobs = [self.create_job()['id'] for _ in range(3)]
        self.app.post('/v1/jobs/%s/cancel' % self.jobs[0], status=202)

    def test_list_in_chain_order(self):
        got = self.app.get('/v1/audit').json['audit']
        self.assertEqual([1, 2, 3, 4], [r['id'] for r in got])
        self.assertEqual(['job.create'] * 3 + ['job.cancel'],
                         [r['action'] for r in got])
        self.assertEqual(got[0]['hash'], got[1]['prev_hash'])
        self.assertTrue(got[0]['created_at'].endswith('+00:00'))
        self.assertEqual('http://localhost/v1/audit/1',
                         got[0]['links'][0]['href'])

    def test_pages_with_integer_marker(self):
        body = self.app.get('/v1/audit?limit=3').json
        self.assertEqual([1, 2, 3], [r['id'] for r in body['audit']])
        body = self.app.get(body['next']).json
        self.assertEqual([4], [r['id'] for r in body['audit']])
        self.assertNotIn('next', body)
        body = self.app.get('/v1/audit?sort_dir=desc&limit=2').json
        self.assertEqual([4, 3], [r['id'] for r in body['audit']])
        body = self.app.get(body['next']).json
        self.assertEqual([2, 1], [r['id'] for r in body['audit']])

    def test_filters(self):
        got = self.app.get('/v1/audit?action=job.cancel').json['audit']
        self.assertEqual([4], [r['id'] for r in got])
        got = self.app.get('/v1/audit', params={
            'resource_type': 'job', 'resource_id': self.jobs[0]}).json
        self.assertEqual([1, 4], [r['id'] for r in got['audit']])
        got = self.app.get('/v1/audit?user_id=noauth&outcome=success').json
        self.assertEqual(4, len(got['audit']))
        got = self.app.get('/v1/audit?outcome=denied').json
        self.assertEqual([], got['audit'])
        rid = self.app.get('/v1/audit/2').json['request_id']
        got = self.app.get('/v1/audit', params={'request_id': rid}).json
        self.assertEqual([2], [r['id'] for r in got['audit']])

    def test_since_until(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        hour = datetime.timedelta(hours=1)
        fmt = '%Y-%m-%dT%H:%M:%SZ'
        got = self.app.get('/v1/audit', params={
            'since': (now - hour).strftime(fmt),
            'until': (now + hour).strftime(fmt)}).json['audit']
        self.assertEqual(4, len(got))
        got = self.app.get('/v1/audit', params={
            'since': (now + hour).isoformat()}).json['audit']
        self.assertEqual([], got)

    def test_show(self):
        rec = self.app.get('/v1/audit/4').json
        self.assertEqual(('job.cancel', self.jobs[0]),
                         (rec['action'], rec['resource_id']))
        self.assertEqual('pending', rec['details']['previous_state'])

    def test_show_unknown_is_404(self):
        self.assertError(self.app.get('/v1/audit/99', expect_errors=True),
                         404)

    def test_verify_intact_then_broken(self):
        body = self.app.get('/v1/audit/verify').json
        self.assertEqual({'valid': True, 'records': 4, 'first_broken': None,
                          'reason': None},
                         {k: body[k] for k in ('valid', 'records',
                                               'first_broken', 'reason')})
        self.assertEqual(self.app.get('/v1/audit/4').json['hash'],
                         body['head'])
        # Tamper with the log behind the API's back, as an intruder with
        # database access would.
        with sqla_api.main_context.writer.using(base._Ctx()) as session:
            session.query(models.AuditRecord).filter_by(id=2).update(
                {'user_id': 'someone-else'})
        body = self.app.get('/v1/audit/verify').json
        self.assertFalse(body['valid'])
        self.assertEqual(2, body['first_broken'])
        self.assertIn('changed', body['reason'])


class AuditBadInputTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.create_job()
        self.before = self.counts()

    def tearDown(self):
        self.assertEqual(self.before, self.counts())
        super().tearDown()

    def test_non_integer_or_out_of_range_ids(self):
        for rid in ('abc', '1.5', '-1', '0', '9' * 25, "1%20OR%201=1"):
            resp = self.app.get('/v1/audit/%s' % rid, expect_errors=True)
            self.assertError(resp, 400)

    def test_bad_query(self):
        for params in ({'limit': '0'}, {'limit': '-5'}, {'limit': 'x'},
                       {'limit': '100000'}, {'marker': 'abc'},
                       {'marker': '-3'}, {'marker': '99'},
                       {'sort_key': 'hash'}, {'sort_dir': 'sideways'},
                       {'outcome': 'maybe'}, {'since': 'yesterday'},
                       {'until': '2024-13-45T99:00:00'},
                       {'action': 'a' * 256}, {'bogus': '1'}):
            resp = self.app.get('/v1/audit', params=params,
                                expect_errors=True)
            self.assertError(resp, 400)

    def test_no_write_methods(self):
        for method in ('put', 'patch', 'delete'):
            resp = getattr(self.app, method)('/v1/audit/1',
                                             expect_errors=True)
            self.assertError(resp, 405)
        resp = self.app.post_json('/v1/audit', {'action': 'forged'},
                                  expect_errors=True)
        self.assertError(resp, 405)
        resp = self.app.delete('/v1/audit', expect_errors=True)
        self.assertError(resp, 405)
        # A read-only action is no door for a POST either.
        resp = self.app.post_json('/v1/audit/verify', {},
                                  expect_errors=True)
        self.assertError(resp, 405)
        self.assertIn('success', records.OUTCOMES)
