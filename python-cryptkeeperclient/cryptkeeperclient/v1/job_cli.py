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

import abc

from cliff import show

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import jobs
from cryptkeeperclient.v1 import resource_cli

STATES = ('pending', 'running', 'succeeded', 'partial', 'failed',
          'cancelled')
TERMINAL_STATES = jobs.TERMINAL_STATES
UNSUCCESSFUL_STATES = jobs.UNSUCCESSFUL_STATES

SHOW_FIELDS = ('id', 'type', 'target', 'state', 'params', 'progress',
               'result', 'cancel_requested', 'created_at', 'started_at',
               'updated_at', 'finished_at', 'created_by', 'project_id',
               'request_id')
LIST_FIELDS = ('id', 'type', 'target', 'state', 'created_at', 'finished_at')
LONG_FIELDS = LIST_FIELDS + ('started_at', 'created_by', 'project_id',
                             'cancel_requested')


def why(job):
    """One line saying how a job ended, with the reason when it has one."""
    result = job.get('result')
    reason = None
    if isinstance(result, dict):
        reason = result.get('reason') or result.get('error')
    if not reason and job.get('state') == 'cancelled':
        reason = 'cancelled on request'
    line = 'Job %s ended %s' % (job.get('id'), job.get('state'))
    return '%s: %s' % (line, reason) if reason else line


class WaitingCommand(show.ShowOne):
    """A command that creates a job, then may follow it until it ends.

    Subclasses build the job in ``create`` and call ``add_wait_options``.
    """

    _finished_badly = False

    @staticmethod
    def add_wait_options(parser):
        parser.add_argument(
            '--wait', action='store_true',
            help='Wait until the job has finished, showing its progress '
                 'on stderr (redrawn in place on a terminal, one line per '
                 'change otherwise); exit non-zero unless it succeeded')
        parser.add_argument(
            '--timeout', type=argtypes.non_negative_float,
            metavar='<seconds>',
            help='With --wait, give up after this many seconds; the job '
                 'goes on (default: wait as long as it takes)')
        parser.add_argument(
            '--poll-interval', type=argtypes.non_negative_float,
            default=2.0, metavar='<seconds>',
            help='With --wait, seconds between two looks at the job '
                 '(default: 2)')

    @abc.abstractmethod
    def create(self, client, parsed_args):
        """Create the job and return it."""

    def take_action(self, parsed_args):
        if parsed_args.timeout is not None and not parsed_args.wait:
            raise exceptions.CommandError('--timeout needs --wait')
        client = self.app.client_manager.cleanup
        job = self.create(client, parsed_args)
        self._finished_badly = False
        if parsed_args.wait:
            view = display.ProgressView(self.app.stderr)
            job = client.jobs.wait(job['id'], timeout=parsed_args.timeout,
                                   interval=parsed_args.poll_interval,
                                   on_change=view.update)
            if job.get('state') in UNSUCCESSFUL_STATES:
                self._finished_badly = True
                self.app.stderr.write(why(job) + '\n')
        return display.show(job, SHOW_FIELDS)

    def run(self, parsed_args):
        result = super().run(parsed_args)
        return result or (1 if self._finished_badly else 0)


class CreateJob(WaitingCommand):
    """Create a job, and optionally wait for it to finish."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--type', required=True, dest='job_type', metavar='<type>',
            help='Job type: "census", or "purge" (see also the purge '
                 'commands, which name each purge parameter)')
        parser.add_argument(
            '--target', required=True, metavar='<target>',
            help='Name of the target the job works on')
        parser.add_argument(
            '--param', dest='params', action='append', default=[],
            type=argtypes.key_value, metavar='<key=value>',
            help='Job parameter; repeat for several. A value that is valid '
                 'JSON (a number, true, false, null, a list) is sent as '
                 'such, anything else as a string')
        self.add_wait_options(parser)
        return parser

    def create(self, client, parsed_args):
        return client.jobs.create(parsed_args.job_type, parsed_args.target,
                                  params=dict(parsed_args.params) or None)


class ListJob(resource_cli.ListResource):
    """List jobs."""

    noun = 'jobs'
    marker_metavar = '<job-id>'
    marker_help = 'Start after this job'
    sort_key_help = 'Field to sort by, e.g. created_at'
    list_fields = LIST_FIELDS
    long_fields = LONG_FIELDS

    def add_filters(self, parser):
        parser.add_argument('--state', choices=STATES,
                            help='Only jobs in this state')
        parser.add_argument('--type', dest='job_type', metavar='<type>',
                            help='Only jobs of this type')
        parser.add_argument('--target', metavar='<target>',
                            help='Only jobs on this target')

    def fetch(self, client, parsed_args, **paging):
        return client.jobs.list(
            state=parsed_args.state, job_type=parsed_args.job_type,
            target=parsed_args.target, **paging)


class ShowJob(resource_cli.ShowResource):
    """Show a job, with its progress and result."""

    argument = 'job_id'
    metavar = '<job-id>'
    argument_help = 'Job ID'
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.jobs.get(ident)


class CancelJob(ShowJob):
    """Ask for a job to be cancelled, and show the job."""

    def fetch(self, client, ident):
        return client.jobs.cancel(ident)
