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

"""Tests for the purge commands and the display of per-table progress."""

import argparse
import io
import json

from cliff import commandmanager
from cliff import show
import fixtures
import testtools

from cryptkeeperclient import osc
from cryptkeeperclient import shell
from cryptkeeperclient.tests.unit import base
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import purge_cli

RESTORE_OF = '0b7e1c2d-8f3a-4e5b-9c6d-7a8b9c0d1e2f'
MODES = ('plan', 'archive', 'purge', 'restore')
COMMAND_CLASSES = (purge_cli.PurgePlan, purge_cli.PurgeArchive,
                   purge_cli.PurgePurge, purge_cli.PurgeRestore)


def counts(planned, archived=0, deleted=0, restored=0):
    return {'planned': planned, 'archived': archived, 'deleted': deleted,
            'restored': restored}


def purge_job(state='pending', tables=None, result=None, **progress):
    """A purge job as the API returns it, with per-table progress."""
    progress = dict({'mode': 'archive', 'phase': 'archive'}, **progress)
    if tables is not None:
        progress['tables'] = tables
    return base.job(state, type='purge', params={'mode': 'archive'},
                    progress=progress, result=result)


class TTYStringIO(io.StringIO):
    """A stream that says it is a terminal, as stderr is interactively."""

    def isatty(self):
        return True


class PurgeCreateTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.add('POST', '/v1/jobs', purge_job(), status=202)

    def sent(self):
        [request] = self.api.calls('POST', '/v1/jobs')
        return request.body

    def test_archive_everything_sends_only_the_mode_and_age(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--older-than', '0',
            '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'purge', 'target': 'nova',
                          'params': {'mode': 'archive', 'older_than': 0}},
                         self.sent())
        self.assertEqual(base.JOB_ID, json.loads(out)['id'])
        # Without --wait the command shows the job and does not poll.
        self.assertEqual([], self.api.calls('GET'))
        self.assertEqual('', err)

    def test_archive_sends_every_option_exactly(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova_cell1',
            '--before', '2026-01-01T00:00:00Z',
            '--table', 'instances', '--table', 'instance_system_metadata',
            '--project', 'p-1', '--batch-size', '250',
            '--max-rows-per-second', '5000', '--pause', '0.5',
            '--window', '22:00-05:30', '--backend', 'database')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'purge', 'target': 'nova_cell1', 'params': {
            'mode': 'archive', 'before': '2026-01-01T00:00:00Z',
            'tables': ['instances', 'instance_system_metadata'],
            'project_id': 'p-1', 'batch_size': 250,
            'max_rows_per_second': 5000, 'pause': 0.5,
            'window': '22:00-05:30', 'backend': 'database'}}, self.sent())

    def test_plan_sends_its_options(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'plan', 'nova_api', '--older-than', '90',
            '--table', 'instances', '--project', 'p-2', '--batch-size',
            '1000', '--cells', 'all')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'purge', 'target': 'nova_api', 'params': {
            'mode': 'plan', 'older_than': 90, 'tables': ['instances'],
            'project_id': 'p-2', 'batch_size': 1000, 'cells': 'all'}},
            self.sent())

    def test_purge_sends_retention_and_backend(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'purge', 'nova', '--retention-days', '30',
            '--backend', 'files', '--table', 'instances',
            '--window', '01:00-04:00')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'purge', 'target': 'nova', 'params': {
            'mode': 'purge', 'retention_days': 30, 'backend': 'files',
            'tables': ['instances'], 'window': '01:00-04:00'}}, self.sent())

    def test_restore_sends_the_job_to_restore(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'restore', 'nova', '--job', RESTORE_OF,
            '--batch-size', '100')
        self.assertEqual(0, rc, err)
        self.assertEqual({'type': 'purge', 'target': 'nova', 'params': {
            'mode': 'restore', 'restore_job': RESTORE_OF,
            'batch_size': 100}}, self.sent())

    def test_usage_errors_send_nothing(self):
        bad = [
            ('archive', 'nova', '--older-than', '3', '--before', '2026-01-01'),
            ('archive', 'nova', '--older-than', '-1'),
            ('archive', 'nova', '--older-than', 'year'),
            ('archive', 'nova', '--batch-size', '0'),
            ('archive', 'nova', '--max-rows-per-second', '0'),
            ('archive', 'nova', '--pause', '-2'),
            ('archive', 'nova', '--window', '25:00-01:00'),
            ('archive', 'nova', '--window', '22:00'),
            ('archive', 'nova', '--window', '22:60-05:00'),
            ('archive', 'nova', '--max-rows-per-second', '0.5'),
            ('archive', 'nova', '--backend', 'tape'),
            ('archive', 'nova', '--cells', 'cell1'),
            ('archive',),
            ('restore', 'nova'),
            ('plan', 'nova', '--retention-days', '3'),
            ('plan', 'nova', '--job', RESTORE_OF),
            ('purge', 'nova', '--retention-days', '-1'),
        ]
        for args in bad:
            rc, out, err = self.run_api_cli(self.api, 'purge', *args)
            self.assertEqual(2, rc, args)
            self.assertIn('usage:', err, args)
        self.assertEqual([], self.api.requests)

    def test_numbers_go_as_the_api_reads_them(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--older-than', '0.5',
            '--max-rows-per-second', '2.5', '--pause', '3',
            '--window', '2:00-5:00')
        self.assertEqual(0, rc, err)
        self.assertEqual({'mode': 'archive', 'older_than': 0.5,
                          'max_rows_per_second': 2.5, 'pause': 3.0,
                          'window': '2:00-5:00'}, self.sent()['params'])

    def test_window_error_says_the_format(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--window', '9-17')
        self.assertEqual(2, rc)
        self.assertIn('must be HH:MM-HH:MM', err)

    def test_server_refusal_is_one_line(self):
        self.api.routes.pop(('POST', '/v1/jobs'))
        self.api.add('POST', '/v1/jobs', status=400, body={'error': {
            'code': 400, 'title': 'Bad Request',
            'message': 'before must not be in the future.'}})
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--before', '2999-01-01')
        self.assertEqual(1, rc)
        self.assertEqual('', out)
        self.assertOneLineError(
            '400 Bad Request: before must not be in the future.', err)


class PurgeWaitTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.path = '/v1/jobs/%s' % base.JOB_ID
        self.api.add('POST', '/v1/jobs', purge_job(), status=202)

    def queue(self, *jobs):
        for job in jobs:
            self.api.add('GET', self.path, job)

    def test_wait_follows_progress_to_the_end(self):
        self.queue(
            purge_job('running', waiting_for_lock={
                'lock': 'purge-nova', 'job': RESTORE_OF}),
            purge_job('running', tables={
                'instance_system_metadata': counts(1000000),
                'instances': counts(300000)}, batches=0),
            purge_job('running', tables={
                'instance_system_metadata': counts(1000000, 2500, 2500),
                'instances': counts(300000, 500, 500)}, batches=1),
            purge_job('running', tables={
                'instance_system_metadata': counts(1000000, 2500, 2500),
                'instances': counts(300000, 500, 500)}, batches=1),
            purge_job('succeeded', tables={
                'instance_system_metadata': counts(1000000, 1000000,
                                                   1000000),
                'instances': counts(300000, 300000, 300000)}, batches=600,
                result={'outcome': 'succeeded', 'batches': 600}))
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--older-than', '0',
            '--wait', '--poll-interval', '0', '-f', 'json')
        self.assertEqual(0, rc, err)
        job = json.loads(out)
        self.assertEqual('succeeded', job['state'])
        self.assertEqual(counts(300000, 300000, 300000),
                         job['progress']['tables']['instances'])
        j = 'Job %s: ' % base.JOB_ID
        self.assertEqual([
            j + 'running (mode=archive, phase=archive, '
                'waiting_for_lock.lock=purge-nova, '
                'waiting_for_lock.job=%s)' % RESTORE_OF,
            j + 'running (mode=archive, phase=archive, batches=0)',
            '  instance_system_metadata: planned=1000000, archived=0, '
            'deleted=0, restored=0',
            '  instances: planned=300000, archived=0, deleted=0, restored=0',
            j + 'running (mode=archive, phase=archive, batches=1)',
            '  instance_system_metadata: planned=1000000, archived=2500, '
            'deleted=2500, restored=0',
            '  instances: planned=300000, archived=500, deleted=500, '
            'restored=0',
            j + 'succeeded (mode=archive, phase=archive, batches=600)',
            '  instance_system_metadata: planned=1000000, '
            'archived=1000000, deleted=1000000, restored=0',
            '  instances: planned=300000, archived=300000, '
            'deleted=300000, restored=0',
        ], err.splitlines())
        # An unchanged poll prints nothing, and polling stops at the end.
        self.assertEqual(5, len(self.api.calls('GET', self.path)))

    def test_partial_exits_one_and_says_why(self):
        reason = 'cell cell2 (c2) not matched: no configured nova target'
        self.queue(purge_job('running', tables={'instances': counts(10)}),
                   purge_job('partial', tables={
                       'instances': counts(10, 10, 10)},
                       result={'outcome': 'partial', 'reason': reason}))
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova_api', '--cells', 'all',
            '--wait', '--poll-interval', '0', '-f', 'value', '-c', 'state')
        self.assertEqual(1, rc)
        self.assertEqual('partial\n', out)
        self.assertEqual('Job %s ended partial: %s' % (base.JOB_ID, reason),
                         err.splitlines()[-1])
        # 'partial' ends the wait even though it is not 'failed'.
        self.assertEqual(2, len(self.api.calls('GET', self.path)))

    def test_failed_exits_one_with_the_error(self):
        self.queue(purge_job('failed', result={
            'error': 'shadow_instances differs from instances: column '
                     'locked_by'}))
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'archive', 'nova', '--wait',
            '--poll-interval', '0')
        self.assertEqual(1, rc)
        self.assertIn('Job %s ended failed: shadow_instances differs from '
                      'instances: column locked_by' % base.JOB_ID, err)

    def test_cancelled_exits_one(self):
        self.queue(purge_job('cancelled'))
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'purge', 'nova', '--wait',
            '--poll-interval', '0')
        self.assertEqual(1, rc)
        self.assertIn('Job %s ended cancelled: cancelled on request'
                      % base.JOB_ID, err)

    def test_timeout_needs_wait(self):
        rc, out, err = self.run_api_cli(
            self.api, 'purge', 'plan', 'nova', '--timeout', '5')
        self.assertEqual(1, rc)
        self.assertOneLineError('--timeout needs --wait', err)
        self.assertEqual([], self.api.requests)

    def test_terminal_redraws_in_place(self):
        self.useFixture(fixtures.EnvironmentVariable('COLUMNS', '200'))
        self.queue(
            purge_job('running', tables={'instances': counts(3),
                                         'instance_extra': counts(3)}),
            purge_job('succeeded', tables={
                'instances': counts(3, 3, 3),
                'instance_extra': counts(3, 3, 3)}))
        stdout, stderr = io.StringIO(), TTYStringIO()
        argv = ['purge', 'archive', 'nova', '--wait', '--poll-interval',
                '0', '-f', 'value', '-c', 'state', '--os-endpoint',
                self.api.url]
        app = shell.CryptkeeperShell(argv, stdout=stdout, stderr=stderr)
        self.assertEqual(0, app.run(argv))
        self.assertEqual('succeeded\n', stdout.getvalue())
        first, second = stderr.getvalue().split('\x1b[5F\x1b[J')
        self.assertEqual([
            'Job %s: running (mode=archive, phase=archive)' % base.JOB_ID,
            '  table           planned  archived  deleted  restored',
            '  instances             3         0        0         0',
            '  instance_extra        3         0        0         0',
            '  (total)               6         0        0         0',
        ], first.splitlines())
        self.assertEqual([
            'Job %s: succeeded (mode=archive, phase=archive)' % base.JOB_ID,
            '  table           planned  archived  deleted  restored',
            '  instances             3         3        3         0',
            '  instance_extra        3         3        3         0',
            '  (total)               6         6        6         0',
        ], second.splitlines())


class JobCommandsWithPurgeTest(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.path = '/v1/jobs/%s' % base.JOB_ID

    def test_job_show_renders_per_table_progress_as_a_table(self):
        self.api.add('GET', self.path, purge_job('running', tables={
            'instances': counts(300000, 120000, 120000),
            'instance_system_metadata': counts(1000000, 400000, 400000)},
            batches=240))
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID)
        self.assertEqual(0, rc, err)
        lines = [line.strip('| ') for line in out.splitlines()]
        for expected in (
                'table                     planned  archived  deleted  '
                'restored',
                'instances                  300000    120000   120000  '
                '       0',
                'instance_system_metadata  1000000    400000   400000  '
                '       0',
                '(total)                   1300000    520000   520000  '
                '       0',
                'batches: 240'):
            self.assertIn(expected, lines)
        rc, out, err = self.run_api_cli(self.api, 'job', 'show',
                                        base.JOB_ID, '-f', 'json')
        self.assertEqual(counts(300000, 120000, 120000),
                         json.loads(out)['progress']['tables']['instances'])

    def test_job_create_purge_waits_through_partial(self):
        self.api.add('POST', '/v1/jobs', purge_job(), status=202)
        self.api.add('GET', self.path, purge_job(
            'partial', tables={'instances': counts(2, 1, 1)},
            result={'outcome': 'partial', 'reason': 'fk conflict'}))
        rc, out, err = self.run_api_cli(
            self.api, 'job', 'create', '--type', 'purge', '--target',
            'nova', '--param', 'mode=archive', '--param', 'older_than=0',
            '--wait', '--poll-interval', '0')
        self.assertEqual(1, rc)
        self.assertEqual({'type': 'purge', 'target': 'nova',
                          'params': {'mode': 'archive', 'older_than': 0}},
                         self.api.calls('POST')[0].body)
        self.assertIn('Job %s ended partial: fk conflict' % base.JOB_ID,
                      err)

    def test_job_list_filters_partial(self):
        self.api.add('GET', '/v1/jobs', {'jobs': []})
        rc, out, err = self.run_api_cli(self.api, 'job', 'list',
                                        '--state', 'partial')
        self.assertEqual(0, rc, err)
        self.assertEqual('partial', self.api.calls()[0].query['state'])


class PurgeHelpTest(base.TestCase):

    def test_every_option_has_help(self):
        # cliff's own options are cliff's business; ours all need help.
        inherited = {a.dest for a in show.ShowOne.get_parser(
            purge_cli.PurgePlan(None, None), 'x')._actions}
        for cls in COMMAND_CLASSES:
            parser = cls(None, None).get_parser('cryptkeeper purge')
            ours = [a for a in parser._actions if a.dest not in inherited]
            self.assertIn('target', [a.dest for a in ours])
            for action in ours:
                self.assertTrue(action.help, (cls.__name__, action.dest))
                self.assertNotEqual(argparse.SUPPRESS, action.help)

    def test_every_mode_option_is_sent(self):
        # An option that is parsed but not sent would be silently ignored.
        not_params = {'target', 'wait', 'timeout', 'poll_interval'}
        inherited = {a.dest for a in show.ShowOne.get_parser(
            purge_cli.PurgePlan(None, None), 'x')._actions}
        for cls in COMMAND_CLASSES:
            parser = cls(None, None).get_parser('cryptkeeper purge')
            dests = {a.dest for a in parser._actions} - inherited
            self.assertEqual(set(cls.sent), dests - not_params, cls.__name__)

    def test_help_names_the_options_of_each_mode(self):
        wanted = {
            'plan': ('--older-than', '--before', '--table', '--project',
                     '--batch-size', '--cells', '--wait'),
            'archive': ('--older-than', '--before', '--table', '--project',
                        '--batch-size', '--max-rows-per-second', '--pause',
                        '--window', '--backend', '--cells', '--wait',
                        '--poll-interval', '--timeout'),
            'purge': ('--retention-days', '--backend', '--window', '--wait'),
            'restore': ('--job', '--batch-size', '--window', '--wait'),
        }
        for mode, options in wanted.items():
            rc, out, err = self.run_cli('purge', mode, '--help')
            self.assertEqual(0, rc, err)
            self.assertIn('<target>', out)
            for option in options:
                self.assertIn(option, out, (mode, option))

    def test_commands_are_registered_under_both_names(self):
        openstack = commandmanager.CommandManager(osc.COMMAND_NAMESPACE)
        standalone = shell.CommandManager(osc.COMMAND_NAMESPACE)
        for mode, cls in zip(MODES, COMMAND_CLASSES, strict=True):
            self.assertIs(cls, openstack.find_command(
                ['cryptkeeper', 'purge', mode])[0])
            self.assertIs(cls, standalone.find_command(['purge', mode])[0])
            self.assertEqual(mode, cls.mode)


class ProgressDisplayTest(testtools.TestCase):

    def test_one_table_has_no_total_row(self):
        self.assertEqual(
            ['table      planned  archived  deleted  restored',
             'instances        5         4        4         0'],
            display.table_lines({'instances': counts(5, 4, 4)}))

    def test_given_totals_are_the_last_row_not_a_line(self):
        result = {'tables': {'a': {'archived': 1}, 'b': {'archived': 2}},
                  'totals': {'archived': 30}, 'batches': 2}
        self.assertEqual(
            'tables:\n'
            '  table    archived\n'
            '  a               1\n'
            '  b               2\n'
            '  (total)        30\n'
            'batches: 2', display.cell(result).human_readable())

    def test_other_counts_follow_the_purge_counts(self):
        plan = {'instances': {'estimated_batches': 3, 'planned': 1200,
                              'age_buckets': {'gt_365d': 1200}}}
        self.assertEqual(
            ['table      planned  estimated_batches  gt_365d',
             'instances     1200                  3     1200'],
            display.table_lines(plan))

    def test_uneven_details_go_under_the_table(self):
        plan = {'instances': {'planned': 3, 'blocked_by': {}},
                'instance_extra': {'planned': 2,
                                   'blocked_by': {'instances': 1}}}
        self.assertEqual(
            ['table           planned',
             'instances             3',
             'instance_extra        2',
             '(total)               5',
             'instance_extra blocked_by: instances=1'],
            display.table_lines(plan))

    def test_missing_counts_show_a_dash(self):
        lines = display.table_lines({'a': {'planned': 1},
                                     'b': {'planned': 2, 'archived': 2}})
        self.assertEqual('a              1         -', lines[1])
        self.assertEqual('(total)        3         2', lines[3])

    def test_cells_show_their_own_tables(self):
        progress = {'cells': {'cell1': {
            'target': 'nova_cell1', 'state': 'succeeded',
            'tables': {'instances': counts(2, 2, 2)}}}}
        self.assertEqual(
            'cells:\n'
            '  cell1: target=nova_cell1, state=succeeded\n'
            '    table      planned  archived  deleted  restored\n'
            '    instances        2         2        2         0',
            display.cell(progress).human_readable())

    def test_census_tables_list_is_unchanged(self):
        census = {'tables': [{'name': 'instances', 'rows': 3}],
                  'totals': {'rows': 3}}
        self.assertEqual('tables:\n  name=instances, rows=3\n'
                         'totals: rows=3',
                         display.cell(census).human_readable())

    def test_live_lines_skip_empty_slots_and_summarise_cells(self):
        stream = io.StringIO()
        view = display.ProgressView(stream)
        self.assertFalse(view.tty)
        view.update({'id': 'j', 'state': 'running', 'progress': {
            'waiting_for_lock': None, 'unmatched_cells': [],
            'cells': {'cell1': {'state': 'succeeded', 'tables': {}},
                      'cell2': {'state': 'running', 'tables': {}}},
            'tables': {'instances': counts(4, 2, 2)}}})
        self.assertEqual(
            'Job j: running (cells: cell1=succeeded, cell2=running)\n'
            '  instances: planned=4, archived=2, deleted=2, restored=0\n',
            stream.getvalue())

    def test_redraw_cuts_lines_to_the_terminal(self):
        stream = io.StringIO()
        view = display.ProgressView(stream, tty=True, width=20)
        view.update({'id': 'abcdefghijklmnopqrstuvwxyz', 'state': 'running',
                     'progress': {}})
        view.update({'id': 'j', 'state': 'succeeded', 'progress': {}})
        self.assertEqual('Job abcdefghijklmno\n\x1b[1F\x1b[J'
                         'Job j: succeeded\n', stream.getvalue())
