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

"""Commands for purge jobs: cryptkeeper purge plan|archive|purge|restore."""

import argparse
import re

from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import job_cli

BACKENDS = ('shadow', 'database', 'files')

_WINDOW = re.compile(r'^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$')


def _number(text, low, what):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value >= low or value == float('inf'):
        raise argparse.ArgumentTypeError(
            'must be %s, not %r' % (what, text))
    # 30 goes to the API as 30, not 30.0; 0.5 stays 0.5.
    return int(value) if value.is_integer() else value


def days(text):
    """A number of days, zero or more; fractions are allowed."""
    return _number(text, 0, 'a number of days, zero or more')


def rate(text):
    """Rows per second, one or more."""
    return _number(text, 1, 'a number of rows per second, 1 or more')


def window(text):
    """A maintenance window 'HH:MM-HH:MM' (24-hour clock, UTC)."""
    match = _WINDOW.match(text)
    if not match or any(int(h) > 23 for h in match.group(1, 3)) or any(
            int(m) > 59 for m in match.group(2, 4)):
        raise argparse.ArgumentTypeError(
            'must be HH:MM-HH:MM on a 24-hour clock, such as 22:00-05:30, '
            'not %r' % text)
    return text


class PurgeCommand(job_cli.WaitingCommand):
    """Create a purge job in the mode the subclass names.

    Only the options given are sent: the server fills in its defaults and
    is the authority on what is valid.
    """

    mode = None

    # The API parameters a mode offers, each the dest of its option; the
    # subclasses add the options so that each help text fits its mode.
    sent = ()

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'target', metavar='<target>',
            help='Name of the target (a database from the service\'s '
                 'configuration), e.g. nova_cell1')
        self.add_options(parser)
        self.add_wait_options(parser)
        return parser

    def add_options(self, parser):
        """Add the options of this mode."""

    def params(self, parsed_args):
        """The job parameters: the mode and every option that was given."""
        params = {'mode': self.mode}
        for name in self.sent:
            value = getattr(parsed_args, name)
            if value is not None:
                params[name] = value
        return params

    def create(self, client, parsed_args):
        return client.jobs.create('purge', parsed_args.target,
                                  params=self.params(parsed_args))


def _add_age(parser, verb):
    age = parser.add_mutually_exclusive_group()
    age.add_argument(
        '--older-than', type=days, metavar='<days>',
        help='%s soft-deleted rows deleted more than this many days ago; '
             '0 means every soft-deleted row' % verb)
    age.add_argument(
        '--before', metavar='<timestamp>',
        help='%s soft-deleted rows deleted before this time (ISO 8601, '
             'UTC unless an offset is given), e.g. 2026-01-01T00:00:00Z. '
             'Without --older-than or --before, every soft-deleted row '
             'qualifies' % verb)


def _add_scope(parser, verb):
    parser.add_argument(
        '--table', dest='tables', action='append', metavar='<table>',
        help='%s only this table and the rows that depend on it; repeat '
             'for several (default: every table the profile allows). '
             'Opt-in tables, such as glance images, are only handled when '
             'named here' % verb)
    parser.add_argument(
        '--project', dest='project_id', metavar='<project-id>',
        help='%s only rows of this project (and their dependents)' % verb)


def _add_batch_size(parser):
    parser.add_argument(
        '--batch-size', type=argtypes.positive_int, metavar='<rows>',
        help='Parent rows per batch, 1 to 10000; a batch and the rows '
             'that depend on it are one bounded transaction (default: '
             '500)')


def _add_pacing(parser):
    parser.add_argument(
        '--max-rows-per-second', type=rate,
        metavar='<rows>',
        help='Slow down so that no more than this many rows per second '
             'are archived or deleted (default: no limit)')
    parser.add_argument(
        '--pause', type=argtypes.non_negative_float, metavar='<seconds>',
        help='Seconds to wait between two batches, 0 to 3600, so that '
             'other writers get the tables (default: 0)')
    parser.add_argument(
        '--window', type=window, metavar='<HH:MM-HH:MM>',
        help='Maintenance window, in UTC; it may wrap midnight '
             '(22:00-05:30). Outside it the job waits between batches '
             '(default: any time)')


def _add_backend(parser, help_text):
    parser.add_argument('--backend', choices=BACKENDS, help=help_text)


def _add_cells(parser, verb):
    parser.add_argument(
        '--cells', choices=('all',),
        help='For a nova_api target: %s every cell listed in its '
             'cell_mappings that is configured as a target, one after the '
             'other' % verb)


class PurgePlan(PurgeCommand):
    """Count what an archive would take, without changing anything.

    Read-only: per table, the rows that would go by age, orphans and
    foreign-key conflicts, and the number of batches. Runs no DML or DDL.
    """

    mode = 'plan'
    sent = ('older_than', 'before', 'tables', 'project_id', 'batch_size',
            'cells')

    def add_options(self, parser):
        _add_age(parser, 'Count')
        _add_scope(parser, 'Count')
        _add_batch_size(parser)
        _add_cells(parser, 'plan in')


class PurgeArchive(PurgeCommand):
    """Archive soft-deleted rows: copy, verify the copy, then delete them.

    Each batch is a set of parent rows with the rows that depend on them,
    written to the archive and counted there before it leaves the source.
    """

    mode = 'archive'
    sent = ('older_than', 'before', 'tables', 'project_id', 'batch_size',
            'max_rows_per_second', 'pause', 'window', 'backend', 'cells')

    def add_options(self, parser):
        _add_age(parser, 'Archive')
        _add_scope(parser, 'Archive')
        _add_batch_size(parser)
        _add_pacing(parser)
        _add_backend(
            parser,
            'Where the rows go: "shadow" (shadow_<table> tables in the same '
            'database, as nova-manage uses), "database" (the archive '
            'database configured for the target) or "files" (compressed '
            'JSON Lines with a SHA-256 manifest) (default: shadow)')
        _add_cells(parser, 'archive')


class PurgePurge(PurgeCommand):
    """Delete archived copies older than a retention, for good."""

    mode = 'purge'
    sent = ('retention_days', 'tables', 'batch_size', 'max_rows_per_second',
            'pause', 'window', 'backend', 'cells')

    def add_options(self, parser):
        parser.add_argument(
            '--retention-days', type=days, metavar='<days>',
            help='Delete archived rows deleted from the service more than '
                 'this many days ago (by their deleted_at, as nova-manage '
                 'db purge --before counts); younger ones stay (default: '
                 '90)')
        parser.add_argument(
            '--table', dest='tables', action='append', metavar='<table>',
            help='Purge the archive of this table only; repeat for several '
                 '(default: every archived table)')
        _add_batch_size(parser)
        _add_pacing(parser)
        _add_backend(
            parser,
            'Which archive to purge: "shadow", "database" or "files" '
            '(default: shadow)')
        _add_cells(parser, 'purge the archives of')


class PurgeRestore(PurgeCommand):
    """Put the rows an archive job took back into the source, parents first.

    Refuses, naming the rows, where a key now exists in the source.
    """

    mode = 'restore'
    sent = ('restore_job', 'batch_size', 'max_rows_per_second', 'pause',
            'window')

    def add_options(self, parser):
        parser.add_argument(
            '--job', dest='restore_job', required=True, metavar='<job-id>',
            help='ID of the archive job whose rows to restore (it must '
                 'have ended; a failed or cancelled one restores the '
                 'batches it finished)')
        _add_batch_size(parser)
        _add_pacing(parser)
