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

"""Tests for the job commands run through the standalone shell."""

import json

import yaml

from cryptkeeperclient.tests.unit import base


class JobCreateTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.path = '/v1/jobs/%s' % base.JOB_ID

    def test_create_sends_type_target_and_params(self):
        self.api.add('POST', '/v1/jobs', base.job(), status=202)
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--param', 'older_than_days=365', '--param',
            'tables=["a", "b"]', '--param', 'note=hello world',
            '--param', 'dry=true', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'census', 'target': 'nova',
                          'params': {'older_than_days': 365,
                                     'tables': ['a', 'b'],
                                     'note': 'hello world', 'dry': True}},
                         self.api.calls('POST')[0].body)
        shown = json.loads(out)
        self.assertEqual(base.JOB_ID, shown['id'])
        self.assertEqual('pending', shown['state'])
        self.assertNotIn('links', shown)

    def test_bad_param_is_a_usage_error(self):
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--param', 'novalue')
        self.assertEqual(2, rc)
        self.assertIn('expected key=value', err)
        self.assertEqual([], self.api.requests)

    def test_type_and_target_are_required(self):
        rc, out, err = self.run_api_cli(self.api, 'job', 'create',
                                        '--target', 'nova')
        self.assertEqual(2, rc)
        self.assertIn('--type', err)
        self.assertEqual([], self.api.requests)

    def test_timeout_needs_wait(self):
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--timeout', '5')
        self.assertEqual(1, rc)
        self.assertOneLineError('--timeout needs --wait', err)
        self.assertEqual([], self.api.requests)

    def test_wait_until_succeeded(self):
        self.api.add('POST', '/v1/jobs', base.job(), status=202)
        self.api.add('GET', self.path, base.job('running',
                                                progress={'tables': 1}))
        self.api.add('GET', self.path, base.job('running',
                                                progress={'tables': 2}))
        self.api.add('GET', self.path, base.job(
            'succeeded', progress={'tables': 2},
            result={'tables': [{'table': 'instances', 'rows': 10}]}))
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--wait', '--poll-interval', '0', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual('succeeded', json.loads(out)['state'])
        self.assertEqual(
            {'tables': [{'table': 'instances', 'rows': 10}]},
            json.loads(out)['result'])
        self.assertEqual([
            'Job %s: running (tables=1)' % base.JOB_ID,
            'Job %s: running (tables=2)' % base.JOB_ID,
            'Job %s: succeeded (tables=2)' % base.JOB_ID,
        ], err.splitlines())

    def test_wait_for_a_failing_job_exits_non_zero(self):
        self.api.add('POST', '/v1/jobs', base.job(), status=202)
        self.api.add('GET', self.path, base.job(
            'failed', result={'error': 'target unreachable'}))
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--wait', '--poll-interval', '0', '-f', 'value',
            '-c', 'state')
        self.assertEqual(1, rc)
        self.assertEqual('failed\n', out)
        self.assertIn('Job %s ended failed' % base.JOB_ID, err)

    def test_wait_timeout_is_one_line(self):
        self.api.add('POST', '/v1/jobs', base.job(), status=202)
        self.api.add('GET', self.path, base.job('running'))
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'census', '--target',
            'nova', '--wait', '--timeout', '0', '--poll-interval', '0')
        self.assertEqual(1, rc)
        self.assertEqual(
            ['Job %s: running' % base.JOB_ID,
             'ERROR: Timed out after 0.0 seconds waiting for job %s '
             '(state: running)' % base.JOB_ID],
            err.splitlines())
        self.assertEqual('', out)


class JobListTest(base.APITestCase):

    def test_filters_become_query_parameters(self):
        self.api.add('GET', '/v1/jobs', {'jobs': [base.job()]})
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'list', '--state', 'running', '--type',
            'census', '--target', 'nova', '--limit', '5', '--marker', 'm',
            '--sort-key', 'created_at', '--sort-dir', 'asc')
        self.assertEqual(0, rc, err)
        self.assertEqual({'state': 'running', 'type': 'census',
                          'target': 'nova', 'limit': '5', 'marker': 'm',
                          'sort_key': 'created_at', 'sort_dir': 'asc'},
                         self.api.calls()[0].query)

    def test_bad_values_are_usage_errors(self):
        for args in (['--limit', '0'], ['--limit', 'x'],
                     ['--state', 'sleeping'], ['--sort-dir', 'up']):
            rc, out, err = self.run_api_cli(self.api, 'job', 'list', *args)
            self.assertEqual(2, rc, args)
        self.assertEqual([], self.api.requests)

    def test_table_and_value_formats(self):
        self.api.add('GET', '/v1/jobs', {'jobs': [
            base.job('succeeded', finished_at='2026-11-21T06:01:00Z')]})
        rc, out, err = self.run_api_cli(self.api, 'job', 'list')
        self.assertEqual(0, rc, err)
        header = out.splitlines()[1]
        for title in ('ID', 'Type', 'Target', 'State', 'Created At',
                      'Finished At'):
            self.assertIn(title, header)
        self.assertIn(base.JOB_ID, out)
        rc, out, err = self.run_api_cli(self.api, 'job', 'list', '-f',
                                        'value', '-c', 'ID', '-c', 'State')
        self.assertEqual('%s succeeded\n' % base.JOB_ID, out)

    def test_long_adds_columns(self):
        self.api.add('GET', '/v1/jobs', {'jobs': [base.job()]})
        rc, out, err = self.run_api_cli(self.api, 'job', 'list', '--long',
                                        '-f', 'json')
        self.assertEqual('admin-user', json.loads(out)[0]['Created By'])
        self.assertIs(False, json.loads(out)[0]['Cancel Requested'])


class JobShowCancelTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.path = '/v1/jobs/%s' % base.JOB_ID
        self.api.add('GET', self.path, base.job(
            'running', params={'older_than_days': 90},
            progress={'step': 'count', 'done': 3}))

    def test_dicts_are_readable_in_a_table(self):
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID)
        self.assertEqual(0, rc, err)
        self.assertIn('step=count, done=3', out)
        self.assertIn('older_than_days=90', out)

    def test_dicts_stay_structured_in_json_and_yaml(self):
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID, '-f', 'json')
        self.assertEqual({'step': 'count', 'done': 3},
                         json.loads(out)['progress'])
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID, '-f', 'yaml')
        self.assertEqual({'older_than_days': 90},
                         yaml.safe_load(out)['params'])

    def test_unknown_fields_are_shown_after_known_ones(self):
        self.api.add('GET', self.path, base.job(zz_new='x'))
        self.api.routes[('GET', self.path)].pop(0)
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID, '-f', 'json')
        keys = list(json.loads(out))
        self.assertEqual('id', keys[0])
        self.assertEqual('zz_new', keys[-1])

    def test_not_found_is_one_line(self):
        rc, out, err = self.run_api_cli(self.api, 'job', 'show', '1234')
        self.assertEqual(1, rc)
        self.assertEqual('', out)
        self.assertOneLineError(
            '404 Not Found: no canned answer for GET /v1/jobs/1234', err)

    def test_cancel_posts_and_shows_the_job(self):
        self.api.add('POST', self.path + '/cancel',
                     base.job('running', cancel_requested=True),
                     status=202)
        rc, out, err = self.run_api_cli(self.api, 'job', 'cancel',
                                        base.JOB_ID, '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertIs(True, json.loads(out)['cancel_requested'])
        self.assertEqual(1, len(self.api.calls('POST')))

    def test_cancel_conflict_is_one_line(self):
        self.api.add('POST', self.path + '/cancel', status=409, body={
            'error': {'code': 409, 'title': 'Conflict',
                      'message': 'Job %s has already finished'
                                 % base.JOB_ID}})
        rc, out, err = self.run_api_cli(self.api, 'job', 'cancel',
                                        base.JOB_ID)
        self.assertEqual(1, rc)
        self.assertOneLineError(
            '409 Conflict: Job %s has already finished' % base.JOB_ID, err)
