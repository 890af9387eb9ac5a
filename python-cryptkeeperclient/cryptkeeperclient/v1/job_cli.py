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

"""Commands for jobs: cryptkeeper job create|list|show|cancel."""

from cliff import lister
from cliff import show

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import jobs
from cryptkeeperclient.v1 import resource_cli

STATES = ('pending', 'running', 'succeeded', 'failed', 'cancelled')

SHOW_FIELDS = ('id', 'type', 'target', 'state', 'params', 'progress',
               'result', 'cancel_requested', 'created_at', 'started_at',
               'updated_at', 'finished_at', 'created_by', 'project_id',
               'request_id')
LIST_FIELDS = ('id', 'type', 'target', 'state', 'created_at', 'finished_at')
LONG_FIELDS = LIST_FIELDS + ('started_at', 'created_by', 'project_id',
                             'cancel_requested')


def _progress_line(job):
    line = 'Job %s: %s' % (job.get('id'), job.get('state'))
    progress = job.get('progress')
    if isinstance(progress, dict) and progress:
        line += ' (%s)' % ', '.join(display.flatten(progress))
    return line


class CreateJob(show.ShowOne):
    """Create a job, and optionally wait for it to finish."""

    _finished_badly = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--type', required=True, dest='job_type', metavar='<type>',
            help='Job type, for example "census"')
        parser.add_argument(
            '--target', required=True, metavar='<target>',
            help='Name of the target the job works on')
        parser.add_argument(
            '--param', dest='params', action='append', default=[],
            type=argtypes.key_value, metavar='<key=value>',
            help='Job parameter; repeat for several. A value that is valid '
                 'JSON (a number, true, false, null, a list) is sent as '
                 'such, anything else as a string')
        parser.add_argument(
            '--wait', action='store_true',
            help='Wait until the job has finished, printing its progress '
                 'on stderr; exit non-zero unless it succeeded')
        parser.add_argument(
            '--timeout', type=argtypes.non_negative_float,
            metavar='<seconds>',
            help='With --wait, give up after this many seconds '
                 '(default: wait as long as it takes)')
        parser.add_argument(
            '--poll-interval', type=argtypes.non_negative_float,
            default=2.0, metavar='<seconds>',
            help='With --wait, seconds between two looks at the job '
                 '(default: 2)')
        return parser

    def take_action(self, parsed_args):
        if parsed_args.timeout is not None and not parsed_args.wait:
            raise exceptions.CommandError('--timeout needs --wait')
        client = self.app.client_manager.cleanup
        job = client.jobs.create(parsed_args.job_type, parsed_args.target,
                                 params=dict(parsed_args.params) or None)
        self._finished_badly = False
        if parsed_args.wait:
            job = client.jobs.wait(
                job['id'], timeout=parsed_args.timeout,
                interval=parsed_args.poll_interval,
                on_change=self._report)
            if job.get('state') in jobs.UNSUCCESSFUL_STATES:
                self._finished_badly = True
                self.app.stderr.write('Job %s ended %s\n'
                                      % (job['id'], job['state']))
        return display.show(job, SHOW_FIELDS)

    def _report(self, job):
        self.app.stderr.write(_progress_line(job) + '\n')
        self.app.stderr.flush()

    def run(self, parsed_args):
        result = super().run(parsed_args)
        return result or (1 if self._finished_badly else 0)


class ListJob(lister.Lister):
    """List jobs."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--state', choices=STATES,
                            help='Only jobs in this state')
        parser.add_argument('--type', dest='job_type', metavar='<type>',
                            help='Only jobs of this type')
        parser.add_argument('--target', metavar='<target>',
                            help='Only jobs on this target')
        parser.add_argument(
            '--limit', type=argtypes.positive_int, metavar='<count>',
            help='Fetch one page of at most this many jobs (default: '
                 'follow the pages the API offers)')
        parser.add_argument('--marker', metavar='<job-id>',
                            help='Start after this job')
        parser.add_argument('--sort-key', metavar='<field>',
                            help='Field to sort by, e.g. created_at')
        parser.add_argument('--sort-dir', choices=('asc', 'desc'),
                            help='Sort direction')
        parser.add_argument('--long', action='store_true',
                            help='Show more columns')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        items = client.jobs.list(
            state=parsed_args.state, job_type=parsed_args.job_type,
            target=parsed_args.target, limit=parsed_args.limit,
            marker=parsed_args.marker, sort_key=parsed_args.sort_key,
            sort_dir=parsed_args.sort_dir)
        fields = LONG_FIELDS if parsed_args.long else LIST_FIELDS
        return display.rows(items, fields)


class ShowJob(resource_cli.ShowResource):
    """Show a job, with its progress and result."""

    argument = 'job_id'
    metavar = '<job-id>'
    argument_help = 'Job ID'
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.jobs.get(ident)


class CancelJob(resource_cli.ShowResource):
    """Ask for a job to be cancelled, and show the job."""

    argument = 'job_id'
    metavar = '<job-id>'
    argument_help = 'Job ID'
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.jobs.cancel(ident)
