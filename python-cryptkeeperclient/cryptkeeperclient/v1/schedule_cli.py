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

"""Commands for schedules: cryptkeeper schedule create|list|show|set|delete.

A schedule creates a purge job each time its cron expression (UTC) falls
due; this is what replaces the cron wrappers around nova-manage.
"""

from cliff import show

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import purge_cli
from cryptkeeperclient.v1 import resource_cli

MODES = ('plan', 'archive', 'purge')

SHOW_FIELDS = ('id', 'name', 'cron', 'enabled', 'job', 'next_run_at',
               'last_run_at', 'last_job_id', 'created_by', 'project_id',
               'created_at', 'updated_at')
LIST_FIELDS = ('id', 'name', 'cron', 'enabled', 'target', 'mode',
               'next_run_at', 'last_run_at')
LONG_FIELDS = LIST_FIELDS + ('last_job_id', 'params', 'created_by',
                             'created_at')

# (dest, API parameter) of the purge options a schedule takes.
PARAMS = (('mode', 'mode'), ('older_than', 'older_than'),
          ('tables', 'tables'), ('project_id', 'project_id'),
          ('batch_size', 'batch_size'),
          ('max_rows_per_second', 'max_rows_per_second'),
          ('pause', 'pause'), ('window', 'window'), ('backend', 'backend'),
          ('retention_days', 'retention_days'), ('cells', 'cells'))


def _add_job_options(parser):
    parser.add_argument(
        '--mode', choices=MODES,
        help='What each run does: "plan" (count only, read-only), '
             '"archive" (move soft-deleted rows to the archive) or "purge" '
             '(delete archived rows older than --retention-days) '
             '(server default: plan)')
    parser.add_argument(
        '--older-than', type=purge_cli.days, metavar='<days>',
        help='Rows deleted more than this many days before each run; 0 '
             'means every soft-deleted row')
    parser.add_argument(
        '--table', dest='tables', action='append', metavar='<table>',
        help='Only this table and the rows that depend on it; repeat for '
             'several')
    parser.add_argument(
        '--project', dest='project_id', metavar='<project-id>',
        help='Only rows of this project')
    parser.add_argument(
        '--batch-size', type=argtypes.positive_int, metavar='<rows>',
        help='Parent rows per batch, 1 to 10000 (server default: 500)')
    parser.add_argument(
        '--max-rows-per-second', type=purge_cli.rate, metavar='<rows>',
        help='Rate limit of each run (default: none)')
    parser.add_argument(
        '--pause', type=argtypes.non_negative_float, metavar='<seconds>',
        help='Seconds between two batches, 0 to 3600')
    parser.add_argument(
        '--window', type=purge_cli.window, metavar='<HH:MM-HH:MM>',
        help='Maintenance window in UTC, may wrap midnight; outside it a '
             'run waits between batches')
    parser.add_argument(
        '--backend', choices=purge_cli.BACKENDS,
        help='Archive: shadow tables, the archive database or files '
             '(server default: shadow)')
    parser.add_argument(
        '--retention-days', type=purge_cli.days, metavar='<days>',
        help='With --mode purge: archived rows older than this go')
    parser.add_argument(
        '--cells', choices=('all',),
        help='For a nova_api target: every configured cell too')
    parser.add_argument(
        '--param', dest='params', action='append', default=[],
        type=argtypes.key_value, metavar='<key=value>',
        help='Any other job parameter; repeat for several. A value that is '
             'valid JSON is sent as such, anything else as a string')


def _params(parsed_args):
    params = {}
    for dest, name in PARAMS:
        value = getattr(parsed_args, dest)
        if value is not None:
            params[name] = value
    for key, value in parsed_args.params:
        if key in params and params[key] != value:
            raise exceptions.CommandError(
                '%s is given twice, with different values' % key)
        params[key] = value
    return params


def _flat(schedule):
    """A schedule with its job's target, mode and params as columns."""
    job = schedule.get('job') or {}
    params = job.get('params') or {}
    return dict(schedule, target=job.get('target'),
                mode=params.get('mode', 'plan'), params=params)


class CreateSchedule(show.ShowOne):
    """Create a schedule that creates a purge job when its cron is due."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--name', required=True, metavar='<name>',
            help='A unique name for the schedule')
        parser.add_argument(
            '--cron', required=True, metavar='<expression>',
            help='When to run, as five cron fields in UTC (minute hour '
                 'day-of-month month day-of-week), e.g. "30 2 * * *" for '
                 '02:30 every day, or @daily, @weekly, @monthly')
        parser.add_argument(
            '--target', required=True, metavar='<target>',
            help='Name of the target each job works on')
        _add_job_options(parser)
        parser.add_argument(
            '--disabled', action='store_true',
            help='Create the schedule without enabling it')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        schedule = client.schedules.create(
            parsed_args.name, parsed_args.cron, parsed_args.target,
            params=_params(parsed_args),
            enabled=not parsed_args.disabled)
        return display.show(schedule, SHOW_FIELDS)


class ListSchedule(resource_cli.ListResource):
    """List schedules."""

    noun = 'schedules'
    marker_metavar = '<schedule-id>'
    marker_help = 'Start after this schedule'
    sort_key_help = 'Field to sort by: created_at, updated_at or name'
    list_fields = LIST_FIELDS
    long_fields = LONG_FIELDS

    def add_filters(self, parser):
        parser.add_argument('--name', metavar='<name>',
                            help='Only the schedule of this name')
        parser.add_argument('--target', metavar='<target>',
                            help='Only schedules of jobs on this target')
        resource_cli.add_switch(
            parser, 'enabled', '--enabled', 'Only enabled schedules',
            '--disabled', 'Only disabled schedules')

    def fetch(self, client, parsed_args, **paging):
        return client.schedules.list(
            name=parsed_args.name, target=parsed_args.target,
            enabled=parsed_args.enabled, **paging)

    def for_display(self, item):
        return _flat(item)


class ShowSchedule(resource_cli.ShowResource):
    """Show a schedule: its cron, job, next and last run."""

    argument = 'schedule'
    metavar = '<schedule>'
    argument_help = 'Schedule name or ID'
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.schedules.find(ident)


class SetSchedule(show.ShowOne):
    """Change a schedule; only the options given change."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('schedule', metavar='<schedule>',
                            help='Schedule name or ID')
        parser.add_argument('--name', metavar='<name>', help='New name')
        parser.add_argument(
            '--cron', metavar='<expression>',
            help='New cron expression (five fields, UTC); the next run is '
                 'counted again from now')
        resource_cli.add_switch(
            parser, 'enabled', '--enable',
            'Enable; the next run counts from now', '--disable', 'Disable')
        parser.add_argument('--target', metavar='<target>',
                            help='New target of the jobs')
        _add_job_options(parser)
        parser.add_argument(
            '--unset-param', dest='unset', action='append', default=[],
            metavar='<key>',
            help='Remove a job parameter, so the server default applies; '
                 'repeat for several')
        return parser

    def take_action(self, parsed_args):
        changes = resource_cli.changes(parsed_args,
                                       ('name', 'cron', 'enabled'))
        job = {}
        if parsed_args.target is not None:
            job['target'] = parsed_args.target
        params = _params(parsed_args)
        for key in parsed_args.unset:
            if key in params:
                raise exceptions.CommandError(
                    '%s is both set and unset' % key)
            # null removes the key in a JSON merge patch.
            params[key] = None
        if params:
            job['params'] = params
        if job:
            changes['job'] = job
        resource_cli.require_changes(changes)
        client = self.app.client_manager.cleanup
        schedule = client.schedules.find(parsed_args.schedule)
        return display.show(client.schedules.update(schedule['id'], changes),
                            SHOW_FIELDS)


class DeleteSchedule(resource_cli.DeleteResources):
    """Delete schedules; the jobs they created stay."""

    argument = 'schedules'
    metavar = '<schedule>'
    argument_help = 'Schedule name or ID; repeat for several'
    one = 'schedule'
    many = 'schedules'

    def delete(self, client, ident):
        schedule = client.schedules.find(ident)
        client.schedules.delete(schedule['id'])
