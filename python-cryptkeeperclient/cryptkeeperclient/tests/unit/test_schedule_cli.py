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

"""Tests for the schedule commands run through the standalone shell."""

import json

from cryptkeeperclient.tests.unit import base

SCHEDULE_ID = '0b6c2c5e-8d4b-4c1e-9a57-2f3e4d5c6b7a'
OTHER_ID = '1c7d3d6f-9e5c-4d2f-8b68-3a4f5e6d7c8b'
PATH = '/v1/schedules/%s' % SCHEDULE_ID


def schedule(**fields):
    """A schedule as the API returns it."""
    body = {
        'id': SCHEDULE_ID, 'name': 'nightly-nova', 'cron': '30 2 * * *',
        'enabled': True,
        'job': {'type': 'purge', 'target': 'nova',
                'params': {'mode': 'archive', 'older_than': 90}},
        'next_run_at': '2026-11-23T02:30:00+00:00', 'last_run_at': None,
        'last_job_id': None, 'created_by': 'admin-user',
        'project_id': 'admin-project',
        'created_at': '2026-11-22T10:17:00+00:00', 'updated_at': None,
        'links': [{'rel': 'self', 'href': PATH}],
    }
    body.update(fields)
    return body


class ScheduleCreateTest(base.APITestCase):

    def test_create_sends_the_job_and_only_given_params(self):
        self.api.add('POST', '/v1/schedules', schedule(), status=201)
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'create', '--name', 'nightly-nova',
            '--cron', '30 2 * * *', '--target', 'nova', '--mode', 'archive',
            '--older-than', '90', '--table', 'instances', '--table',
            'instance_faults', '--batch-size', '200', '--window',
            '01:00-05:00', '--max-rows-per-second', '1000', '--pause',
            '0.5', '--backend', 'files', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(
            {'name': 'nightly-nova', 'cron': '30 2 * * *', 'enabled': True,
             'job': {'type': 'purge', 'target': 'nova', 'params': {
                 'mode': 'archive', 'older_than': 90,
                 'tables': ['instances', 'instance_faults'],
                 'batch_size': 200, 'window': '01:00-05:00',
                 'max_rows_per_second': 1000, 'pause': 0.5,
                 'backend': 'files'}}},
            self.api.calls('POST')[0].body)
        shown = json.loads(out)
        self.assertEqual(SCHEDULE_ID, shown['id'])
        self.assertEqual('nova', shown['job']['target'])
        self.assertNotIn('links', shown)

    def test_create_disabled_without_params(self):
        self.api.add('POST', '/v1/schedules', schedule(enabled=False),
                     status=201)
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'create', '--name', 'n', '--cron',
            '@daily', '--target', 'nova', '--disabled')
        self.assertEqual(0, rc, err)
        self.assertEqual({'name': 'n', 'cron': '@daily', 'enabled': False,
                          'job': {'type': 'purge', 'target': 'nova'}},
                         self.api.calls('POST')[0].body)

    def test_generic_param_and_conflicts(self):
        self.api.add('POST', '/v1/schedules', schedule(), status=201)
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'create', '--name', 'n', '--cron',
            '@daily', '--target', 'nova', '--param', 'cells=all',
            '--older-than', '30', '--param', 'older_than=30')
        self.assertEqual(0, rc, err)
        self.assertEqual({'cells': 'all', 'older_than': 30},
                         self.api.calls('POST')[0].body['job']['params'])
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'create', '--name', 'n', '--cron',
            '@daily', '--target', 'nova', '--older-than', '30', '--param',
            'older_than=31')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            'older_than is given twice, with different values', err)
        self.assertEqual(1, len(self.api.calls('POST')))

    def test_usage_errors_send_nothing(self):
        for args in ([], ['--name', 'n', '--cron', '@daily'],
                     ['--name', 'n', '--target', 'nova'],
                     ['--name', 'n', '--cron', '@daily', '--target', 'nova',
                      '--mode', 'restore'],
                     ['--name', 'n', '--cron', '@daily', '--target', 'nova',
                      '--batch-size', '0'],
                     ['--name', 'n', '--cron', '@daily', '--target', 'nova',
                      '--window', '25:00-01:00'],
                     ['--name', 'n', '--cron', '@daily', '--target', 'nova',
                      '--older-than', '-1']):
            rc, out, err = self.run_api_cli(self.api, 'schedule', 'create',
                                            *args)
            self.assertEqual(2, rc, args)
        self.assertEqual([], self.api.requests)

    def test_server_refusal_is_one_line(self):
        self.api.add('POST', '/v1/schedules', status=400, body={
            'error': {'code': 400, 'title': 'Bad Request',
                      'message': 'Invalid input: cron: minute must be '
                                 'between 0 and 59, not 61.'}})
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'create', '--name', 'n', '--cron',
            '61 * * * *', '--target', 'nova')
        self.assertEqual(1, rc)
        self.assertOneLineError(
            '400 Bad Request: Invalid input: cron: minute must be between '
            '0 and 59, not 61.', err)


class ScheduleListShowTest(base.APITestCase):

    def test_list_filters_and_columns(self):
        self.api.add('GET', '/v1/schedules', {'schedules': [schedule()]})
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'list', '--target', 'nova', '--disabled',
            '--name', 'nightly-nova', '--limit', '5', '--sort-key', 'name',
            '--sort-dir', 'desc', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'target': 'nova', 'enabled': 'false',
                          'name': 'nightly-nova', 'limit': '5',
                          'sort_key': 'name', 'sort_dir': 'desc'},
                         self.api.calls()[0].query)
        [row] = json.loads(out)
        self.assertEqual(
            {'ID': SCHEDULE_ID, 'Name': 'nightly-nova', 'Cron': '30 2 * * *',
             'Enabled': True, 'Target': 'nova', 'Mode': 'archive',
             'Next Run At': '2026-11-23T02:30:00+00:00',
             'Last Run At': None}, row)

    def test_list_enabled_and_long(self):
        self.api.add('GET', '/v1/schedules', {'schedules': [
            schedule(job={'type': 'purge', 'target': 'nova'})]})
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'list',
                                        '--enabled', '--long', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'enabled': 'true'}, self.api.calls()[0].query)
        [row] = json.loads(out)
        # A schedule without a mode runs the server's default: plan.
        self.assertEqual(('plan', {}, 'admin-user'),
                         (row['Mode'], row['Params'], row['Created By']))
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'list',
                                        '--enabled', '--disabled')
        self.assertEqual(2, rc)

    def test_show_by_id(self):
        self.api.add('GET', PATH, schedule())
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'show',
                                        SCHEDULE_ID, '-f', 'json')
        self.assertEqual(0, rc, err)
        shown = json.loads(out)
        self.assertEqual(['id', 'name', 'cron', 'enabled', 'job'],
                         list(shown)[:5])
        self.assertEqual({'mode': 'archive', 'older_than': 90},
                         shown['job']['params'])

    def test_show_by_name_looks_it_up(self):
        self.api.add('GET', '/v1/schedules', {'schedules': [schedule()]})
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'show',
                                        'nightly-nova')
        self.assertEqual(0, rc, err)
        self.assertEqual({'name': 'nightly-nova'},
                         self.api.calls()[0].query)
        self.assertIn('target: nova', out)
        self.assertIn('params: mode=archive, older_than=90', out)

    def test_show_unknown_name_is_one_line(self):
        self.api.add('GET', '/v1/schedules', {'schedules': []})
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'show',
                                        'weekly')
        self.assertEqual(1, rc)
        self.assertOneLineError('No schedule with name or ID weekly', err)


class ScheduleSetDeleteTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.add('GET', PATH, schedule())

    def test_set_sends_a_merge_patch_of_what_was_given(self):
        self.api.add('PATCH', PATH, schedule(cron='0 3 * * *',
                                             enabled=False))
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'set', SCHEDULE_ID, '--cron', '0 3 * * *',
            '--disable', '--target', 'nova2', '--older-than', '30',
            '--unset-param', 'batch_size', '--unset-param', 'window',
            '-f', 'json')
        self.assertEqual(0, rc, err)
        [patch] = self.api.calls('PATCH')
        self.assertEqual({'cron': '0 3 * * *', 'enabled': False,
                          'job': {'target': 'nova2', 'params': {
                              'older_than': 30, 'batch_size': None,
                              'window': None}}}, patch.body)
        self.assertEqual('application/json',
                         patch.headers['content-type'])
        self.assertIs(False, json.loads(out)['enabled'])

    def test_set_by_name_enable_and_rename(self):
        self.api.add('GET', '/v1/schedules', {'schedules': [schedule()]})
        self.api.add('PATCH', PATH, schedule(name='renamed'))
        rc, out, err = self.run_api_cli(
            self.api, 'schedule', 'set', 'nightly-nova', '--enable',
            '--name', 'renamed')
        self.assertEqual(0, rc, err)
        self.assertEqual({'enabled': True, 'name': 'renamed'},
                         self.api.calls('PATCH')[0].body)

    def test_set_nothing_or_contradictions_send_nothing(self):
        for args, message in (
                ([], 'Nothing to change; give at least one option'),
                (['--batch-size', '5', '--unset-param', 'batch_size'],
                 'batch_size is both set and unset')):
            rc, out, err = self.run_api_cli(self.api, 'schedule', 'set',
                                            SCHEDULE_ID, *args)
            self.assertEqual(1, rc)
            self.assertOneLineError(message, err)
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'set',
                                        SCHEDULE_ID, '--enable',
                                        '--disable')
        self.assertEqual(2, rc)
        self.assertEqual([], self.api.requests)

    def test_delete_several(self):
        self.api.add('DELETE', PATH, b'', status=204)
        self.api.add('GET', '/v1/schedules/%s' % OTHER_ID,
                     schedule(id=OTHER_ID))
        self.api.add('DELETE', '/v1/schedules/%s' % OTHER_ID, b'',
                     status=204)
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'delete',
                                        SCHEDULE_ID, OTHER_ID)
        self.assertEqual(0, rc, err)
        self.assertEqual(['/v1/schedules/%s' % i
                          for i in (SCHEDULE_ID, OTHER_ID)],
                         [r.path for r in self.api.calls('DELETE')])
        self.assertEqual('', out)

    def test_delete_goes_on_after_a_failure_and_exits_non_zero(self):
        self.api.add('GET', '/v1/schedules', {'schedules': []})
        self.api.add('DELETE', PATH, b'', status=204)
        rc, out, err = self.run_api_cli(self.api, 'schedule', 'delete',
                                        'gone', SCHEDULE_ID)
        self.assertEqual(1, rc)
        self.assertEqual(
            ['Failed to delete schedule gone: No schedule with name or ID '
             'gone',
             'ERROR: 1 of 2 schedules could not be deleted'],
            err.splitlines())
        self.assertEqual([PATH], [r.path for r in self.api.calls('DELETE')])
