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

"""Tests for the audit and target commands."""

import json

from cryptkeeperclient.tests.unit import base

RECORD = {
    'id': 7, 'created_at': '2026-11-21T06:00:00Z', 'request_id': 'req-1',
    'user_id': 'u1', 'project_id': 'p1', 'action': 'job.create',
    'resource_type': 'job', 'resource_id': base.JOB_ID,
    'outcome': 'success', 'reason': None,
    'details': {'type': 'census', 'target': 'nova'},
    'prev_hash': 'a' * 64, 'hash': 'b' * 64,
}

TARGET = {'name': 'nova', 'profile': 'nova',
          'connection': 'mysql+pymysql://nova:***@db/nova',
          'reachable': True, 'checked_at': '2026-11-21T06:00:00Z',
          'error': None, 'api_target': 'nova_api'}


class AuditCommandsTest(base.APITestCase):

    def test_list_filters(self):
        self.api.add('GET', '/v1/audit', {'audit': [RECORD]})
        rc, out, err = self.run_api_cli(
            self.api, 'audit', 'list', '--action', 'job.create',
            '--resource-type', 'job', '--resource-id', base.JOB_ID,
            '--user-id', 'u1', '--outcome', 'success', '--since',
            '2026-01-01T00:00:00Z', '--until', '2026-12-01T00:00:00Z',
            '--limit', '10', '--marker', '3', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'action': 'job.create', 'resource_type': 'job',
                          'resource_id': base.JOB_ID, 'user_id': 'u1',
                          'outcome': 'success',
                          'since': '2026-01-01T00:00:00Z',
                          'until': '2026-12-01T00:00:00Z', 'limit': '10',
                          'marker': '3'}, self.api.calls()[0].query)
        self.assertEqual([{'ID': 7, 'Created At': '2026-11-21T06:00:00Z',
                           'Action': 'job.create', 'Resource Type': 'job',
                           'Resource ID': base.JOB_ID, 'User ID': 'u1',
                           'Outcome': 'success'}], json.loads(out))

    def test_show(self):
        self.api.add('GET', '/v1/audit/7', RECORD)
        rc, out, err = self.run_api_cli(self.api, 'audit', 'show', '7',
                                        '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(RECORD, json.loads(out))

    def test_show_needs_an_integer_id(self):
        rc, out, err = self.run_api_cli(self.api, 'audit', 'show', 'abc')
        self.assertEqual(2, rc)
        self.assertEqual([], self.api.requests)

    def test_verify_valid(self):
        self.api.add('GET', '/v1/audit/verify', {
            'valid': True, 'records': 12, 'head': 'c' * 64,
            'first_broken': None, 'reason': None})
        rc, out, err = self.run_api_cli(self.api, 'audit', 'verify',
                                        '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual('', err)
        self.assertEqual(12, json.loads(out)['records'])

    def test_verify_broken_exits_one(self):
        self.api.add('GET', '/v1/audit/verify', {
            'valid': False, 'records': 12, 'head': 'c' * 64,
            'first_broken': 5, 'reason': 'hash mismatch'})
        rc, out, err = self.run_api_cli(self.api, 'audit', 'verify',
                                        '-f', 'value', '-c', 'valid',
                                        '-c', 'first_broken')
        self.assertEqual(1, rc)
        self.assertEqual('False\n5\n', out)
        self.assertEqual(
            'The audit log is broken at record 5: hash mismatch\n', err)

    def test_forbidden_is_one_line(self):
        self.api.add('GET', '/v1/audit/verify', status=403, body={
            'error': {'code': 403, 'title': 'Forbidden',
                      'message': 'Policy doesn\'t allow '
                                 'cryptkeeper:audit:verify to be '
                                 'performed.'}})
        rc, out, err = self.run_api_cli(self.api, 'audit', 'verify')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            "403 Forbidden: Policy doesn't allow cryptkeeper:audit:verify "
            "to be performed.", err)


class TargetCommandsTest(base.APITestCase):

    def test_list_and_long(self):
        self.api.add('GET', '/v1/targets', {'targets': [TARGET]})
        rc, out, err = self.run_api_cli(self.api, 'target', 'list', '-f',
                                        'json')
        self.assertEqual(0, rc, err)
        self.assertEqual([{'Name': 'nova', 'Profile': 'nova',
                           'Reachable': True,
                           'Checked At': '2026-11-21T06:00:00Z'}],
                         json.loads(out))
        rc, out, err = self.run_api_cli(self.api, 'target', 'list',
                                        '--long', '-f', 'json')
        self.assertEqual(TARGET['connection'],
                         json.loads(out)[0]['Connection'])

    def test_show(self):
        self.api.add('GET', '/v1/targets/nova', TARGET)
        rc, out, err = self.run_api_cli(self.api, 'target', 'show', 'nova',
                                        '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(TARGET, json.loads(out))

    def test_census_tables_in_table_and_json(self):
        census = {'job_id': base.JOB_ID,
                  'finished_at': '2026-11-21T06:01:00Z',
                  'tables': [{'table': 'instances', 'rows': 10,
                              'deleted': 4},
                             {'table': 'instance_metadata', 'rows': 3,
                              'deleted': 0}]}
        self.api.add('GET', '/v1/targets/nova/census', census)
        rc, out, err = self.run_api_cli(self.api, 'target', 'census',
                                        'nova')
        self.assertEqual(0, rc, err)
        self.assertIn('table=instances, rows=10, deleted=4', out)
        self.assertIn('table=instance_metadata, rows=3, deleted=0', out)
        rc, out, err = self.run_api_cli(self.api, 'target', 'census',
                                        'nova', '-f', 'json')
        self.assertEqual(census, json.loads(out))

    def test_census_missing_is_one_line(self):
        self.api.add('GET', '/v1/targets/nova/census', status=404, body={
            'error': {'code': 404, 'title': 'Not Found',
                      'message': 'No census of target nova has succeeded'}})
        rc, out, err = self.run_api_cli(self.api, 'target', 'census',
                                        'nova')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            '404 Not Found: No census of target nova has succeeded', err)

    def test_long_labels(self):
        self.api.add('GET', '/v1/targets', {'targets': [TARGET]})
        rc, out, err = self.run_api_cli(self.api, 'target', 'list',
                                        '--long', '-f', 'json')
        self.assertEqual('nova_api', json.loads(out)[0]['API Target'])
