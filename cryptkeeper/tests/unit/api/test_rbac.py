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

"""Policy in the API: who may read, who may write, and 403s audited."""

from oslo_utils import uuidutils

from cryptkeeper.tests.unit.api import base

READS = ('/v1/jobs', '/v1/jobs/%(job)s', '/v1/audit', '/v1/audit/1',
         '/v1/audit/verify', '/v1/targets', '/v1/targets/demo')


class RBACTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.job = self.create_job()['id']

    def _denials(self):
        return [r for r in self.audit() if r.outcome == 'denied']

    def _writes(self, headers):
        yield self.as_user.post_json(
            '/v1/jobs', {'type': 'census', 'target': 'demo'},
            headers=headers, expect_errors=True)
        yield self.as_user.post('/v1/jobs/%s/cancel' % self.job,
                                headers=headers, expect_errors=True)

    def test_project_member_and_reader_refused_reads(self):
        for persona in (base.MEMBER, base.PROJECT_READER):
            for path in READS + ('/v1/targets/demo/census',):
                resp = self.as_user.get(path % {'job': self.job},
                                        headers=persona,
                                        expect_errors=True)
                self.assertIn('cryptkeeper:', self.assertError(resp, 403))

    def test_project_member_refused_writes_and_nothing_written(self):
        jobs_before = self.count_jobs()
        for persona in (base.MEMBER, base.PROJECT_READER,
                        base.SYSTEM_READER):
            for resp in self._writes(persona):
                self.assertError(resp, 403)
        self.assertEqual(jobs_before, self.count_jobs())
        state = self.app.get('/v1/jobs/%s' % self.job).json['state']
        self.assertEqual('pending', state)

    def test_system_reader_may_read(self):
        for path in READS:
            self.as_user.get(path % {'job': self.job},
                             headers=base.SYSTEM_READER, status=200)
        self.assertEqual([], self._denials())

    def test_admin_may_write(self):
        created = list(self._writes(base.ADMIN))
        self.assertEqual([202, 202], [r.status_int for r in created])
        self.assertEqual('admin-user', created[0].json['created_by'])
        self.assertEqual('admin-project', created[0].json['project_id'])

    def test_403_is_audited_with_who_and_rule(self):
        resp = next(self._writes(base.MEMBER))
        self.assertError(resp, 403)
        resp = self.as_user.get('/v1/audit', headers=base.PROJECT_READER,
                                expect_errors=True)
        self.assertError(resp, 403)
        resp = self.as_user.post('/v1/jobs/%s/cancel' % self.job,
                                 headers=base.MEMBER, expect_errors=True)
        create, listing, cancel = self._denials()
        self.assertEqual(
            ('job.create', 'cryptkeeper:job:create', 'member-user', 'demo'),
            (create.action, create.reason, create.user_id,
             create.project_id))
        self.assertEqual(('audit.get_all', 'reader-user'),
                         (listing.action, listing.user_id))
        self.assertEqual(resp.headers['x-openstack-request-id'],
                         cancel.request_id)
        self.assertEqual(('job.cancel', 'job', self.job),
                         (cancel.action, cancel.resource_type,
                          cancel.resource_id))
        verify = self.app.get('/v1/audit/verify').json
        self.assertTrue(verify['valid'])

    def test_policy_comes_before_input_checks(self):
        # A refused caller learns nothing about which ids exist.
        resp = self.as_user.get('/v1/jobs/%s' % uuidutils.generate_uuid(),
                                headers=base.MEMBER, expect_errors=True)
        self.assertError(resp, 403)
        resp = self.as_user.get('/v1/jobs/not-a-uuid',
                                headers=base.MEMBER, expect_errors=True)
        self.assertError(resp, 403)

    def test_no_identity_is_refused(self):
        resp = self.as_user.get('/v1/jobs', expect_errors=True)
        self.assertError(resp, 403)

    def count_jobs(self):
        return self.counts()[0]
