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

"""Tests for the console policy and console log commands."""

import argparse
import json

from cryptkeeperclient.tests.unit import base
from cryptkeeperclient.v1 import console_cli

POLICY_ID = '2d8e4e7a-0f6d-4e3a-9c79-4b5a6f7e8d9c'
INSTANCE = '6b1f7d52-3f0e-4a55-9d53-3c8a1b7e9f01'
PATH = '/v1/console-policies/%s' % POLICY_ID
MiB = 1 << 20


def policy(**fields):
    """A console-log policy as the API returns it."""
    body = {
        'id': POLICY_ID, 'name': 'big-logs',
        'scope': {'kind': 'host', 'value': 'c01'},
        'max_bytes': 10 * MiB, 'keep_bytes': MiB, 'backups': 3,
        'max_age_days': None, 'mode': 'enforce', 'enabled': True,
        'created_by': 'admin-user', 'project_id': 'admin-project',
        'created_at': '2026-11-22T10:17:00+00:00', 'updated_at': None,
        'links': [{'rel': 'self', 'href': PATH}],
    }
    body.update(fields)
    return body


def console_log(**fields):
    body = {
        'instance': INSTANCE, 'host': 'c01', 'project': 'p1',
        'reported_by': 'c01',
        'path': '/var/lib/nova/instances/%s/console.log' % INSTANCE,
        'present': True, 'apparent_bytes': 5905580032,
        'allocated_bytes': 1052672, 'rotated_bytes': 0,
        'growth_bytes_per_hour': 734003200, 'runaway': True,
        'runaway_since': '2026-11-22T10:20:00+00:00',
        'policy': 'big-logs',
        'policy_why': "policy 'big-logs' applies: scope host=c01 is the "
                      "most specific enabled match",
        'last_action': {'action': 'cut', 'method': 'punch_hole',
                        'bytes_removed': 5904531456},
        'last_action_at': '2026-11-22T10:30:00+00:00',
        'holders': {'holders': [], 'complete': True, 'note': None},
        'problems': [], 'measured_at': '2026-11-22T10:30:00+00:00',
        'links': [],
    }
    body.update(fields)
    return body


class SizeTest(base.TestCase):

    def test_sizes(self):
        self.assertEqual(1048576, console_cli.size('1048576'))
        self.assertEqual(512 * 1024, console_cli.size('512K'))
        self.assertEqual(10 * MiB, console_cli.size('10MiB'))
        self.assertEqual(2 << 30, console_cli.size('2g'))
        for bad in ('0', '-1M', '1.5G', '10X', ''):
            self.assertRaises(argparse.ArgumentTypeError, console_cli.size,
                              bad)


class ConsolePolicyCommandsTest(base.APITestCase):

    def test_create_sends_scope_and_sizes(self):
        self.api.add('POST', '/v1/console-policies', policy(), status=201)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'big-logs',
            '--max-bytes', '10M', '--keep-bytes', '1M', '--host', 'c01',
            '--backups', '3', '--mode', 'enforce', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(
            {'name': 'big-logs', 'max_bytes': 10 * MiB, 'keep_bytes': MiB,
             'scope': {'kind': 'host', 'value': 'c01'}, 'backups': 3,
             'mode': 'enforce'},
            self.api.calls('POST')[0].body)
        shown = json.loads(out)
        self.assertEqual(('host=c01', 10 * MiB),
                         (shown['scope'], shown['max_bytes']))
        self.assertNotIn('links', shown)

    def test_create_global_report_by_default(self):
        self.api.add('POST', '/v1/console-policies', policy(
            scope={'kind': 'global', 'value': None}, mode='report'),
            status=201)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'g', '--max-bytes',
            '2M', '--keep-bytes', '512K', '--disable', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'name': 'g', 'max_bytes': 2 * MiB,
                          'keep_bytes': 512 * 1024, 'enabled': False},
                         self.api.calls('POST')[0].body)
        self.assertEqual('global', json.loads(out)['scope'])

    def test_create_needs_sizes_and_one_scope(self):
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'x', '--max-bytes',
            '1M')
        self.assertEqual(2, rc)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'x', '--max-bytes',
            '1M', '--keep-bytes', '1K', '--host', 'a', '--project', 'b')
        self.assertEqual(2, rc)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'x', '--max-bytes',
            'lots', '--keep-bytes', '1K')
        self.assertEqual(2, rc)
        self.assertIn('positive number of bytes', err)
        self.assertEqual([], self.api.requests)

    def test_api_validation_error_is_one_line(self):
        self.api.add('POST', '/v1/console-policies', {'error': {
            'code': 400, 'title': 'Bad Request',
            'message': 'Invalid input: keep_bytes (2097152) must not '
                       'exceed max_bytes (1048576).'}}, status=400)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'create', 'x', '--max-bytes',
            '1M', '--keep-bytes', '2M')
        self.assertEqual(1, rc)
        self.assertIn('keep_bytes (2097152) must not exceed max_bytes', err)

    def test_list_filters_and_scope_column(self):
        self.api.add('GET', '/v1/console-policies', {'console_policies': [
            policy(), policy(id='x', name='g', enabled=False,
                             scope={'kind': 'global', 'value': None})]})
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'list', '--mode', 'enforce',
            '--disabled', '--scope-kind', 'host', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'mode': 'enforce', 'enabled': 'false',
                          'scope_kind': 'host'},
                         self.api.calls()[0].query)
        rows = json.loads(out)
        self.assertEqual(['host=c01', 'global'], [r['Scope'] for r in rows])
        self.assertEqual(['ID', 'Name', 'Scope', 'Mode', 'Enabled',
                          'Max Bytes', 'Keep Bytes', 'Backups'],
                         list(rows[0]))

    def test_show_by_name(self):
        self.api.add('GET', '/v1/console-policies/big-logs', policy())
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'show', 'big-logs', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(POLICY_ID, json.loads(out)['id'])

    def test_set_sends_a_merge_patch(self):
        self.api.add('PATCH', '/v1/console-policies/big-logs',
                     policy(mode='report', scope={'kind': 'global',
                                                  'value': None}))
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'set', 'big-logs', '--mode',
            'report', '--global', '--keep-bytes', '2M', '--no-max-age',
            '--enable', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'mode': 'report', 'scope': {'kind': 'global'},
                          'keep_bytes': 2 * MiB, 'max_age_days': None,
                          'enabled': True},
                         self.api.calls('PATCH')[0].body)
        self.assertEqual('global', json.loads(out)['scope'])

    def test_set_nothing_is_an_error(self):
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'set', 'big-logs')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            'Nothing to change; give at least one option', err)
        self.assertEqual([], self.api.requests)

    def test_delete_several_reports_failures(self):
        self.api.add('DELETE', PATH, b'', status=204)
        self.api.add('DELETE', '/v1/console-policies/nope', {'error': {
            'code': 404, 'title': 'Not Found',
            'message': 'Console-log policy nope could not be found.'}},
            status=404)
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'policy', 'delete', POLICY_ID, 'nope')
        self.assertEqual(1, rc)
        self.assertIn('Failed to delete console-log policy nope', err)
        self.assertIn('1 of 2 console-log policies could not be deleted',
                      err)
        self.assertEqual(2, len(self.api.calls('DELETE')))


class ConsoleLogCommandsTest(base.APITestCase):

    def test_list_biggest_runaway_first(self):
        self.api.add('GET', '/v1/console-logs',
                     {'console_logs': [console_log()]})
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'log', 'list', '--runaway', '--sort-key',
            'growth', '--sort-dir', 'desc', '--host', 'c01', '--limit', '5',
            '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'runaway': 'true', 'sort_key':
                          'growth_bytes_per_hour', 'sort_dir': 'desc',
                          'host': 'c01', 'limit': '5'},
                         self.api.calls()[0].query)
        [row] = json.loads(out)
        self.assertEqual(
            {'Instance': INSTANCE, 'Host': 'c01', 'Project': 'p1',
             'Allocated Bytes': 1052672,
             'Growth Bytes Per Hour': 734003200, 'Runaway': True,
             'Policy': 'big-logs', 'Last Action': 'cut (punch_hole)'}, row)

    def test_list_follows_pages(self):
        second = '0c2bd5a4-8a7e-4f4e-b0b6-0d2b8f0d7e11'
        self.api.add('GET', '/v1/console-logs', {
            'console_logs': [console_log()],
            'next': 'http://elsewhere/v1/console-logs?limit=1&marker=%s'
                    % INSTANCE})
        self.api.add('GET', '/v1/console-logs', {
            'console_logs': [console_log(instance=second,
                                         last_action=None)]})
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'log', 'list', '--no-runaway', '--sort-key',
            'size', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual([INSTANCE, second],
                         [r['Instance'] for r in json.loads(out)])
        self.assertEqual({'runaway': 'false', 'sort_key': 'allocated_bytes',
                          'limit': '1', 'marker': INSTANCE},
                         self.api.calls()[1].query)

    def test_show_has_policy_why_and_action(self):
        self.api.add('GET', '/v1/console-logs/%s' % INSTANCE, console_log())
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'log', 'show', INSTANCE, '-f', 'json')
        self.assertEqual(0, rc, err)
        shown = json.loads(out)
        self.assertIn('most specific', shown['policy_why'])
        self.assertEqual('punch_hole', shown['last_action']['method'])

    def test_bad_sort_key_is_a_usage_error(self):
        rc, out, err = self.run_api_cli(
            self.api, 'console', 'log', 'list', '--sort-key', 'path')
        self.assertEqual(2, rc)
        self.assertEqual([], self.api.requests)
