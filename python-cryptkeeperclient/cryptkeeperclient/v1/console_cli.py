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

"""Commands for console logs and their policies.

cryptkeeper console policy create|list|show|set|delete and
cryptkeeper console log list|show. Policies are enforced by
cryptkeeper-agent on every compute host; the most specific enabled policy
wins (instance > host > project > global).
"""

import argparse
import re

from cliff import show

from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import resource_cli

MODES = ('report', 'enforce')
SCOPE_KINDS = ('global', 'project', 'host', 'instance')

POLICY_FIELDS = ('id', 'name', 'scope', 'mode', 'enabled', 'max_bytes',
                 'keep_bytes', 'backups', 'max_age_days', 'created_by',
                 'project_id', 'created_at', 'updated_at')
POLICY_LIST_FIELDS = ('id', 'name', 'scope', 'mode', 'enabled', 'max_bytes',
                      'keep_bytes', 'backups')
POLICY_LONG_FIELDS = POLICY_LIST_FIELDS + ('max_age_days', 'created_by',
                                           'updated_at')

LOG_FIELDS = ('instance', 'host', 'project', 'reported_by', 'path',
              'present', 'apparent_bytes', 'allocated_bytes',
              'rotated_bytes', 'growth_bytes_per_hour', 'runaway',
              'runaway_since', 'policy', 'policy_why', 'last_action',
              'last_action_at', 'holders', 'problems', 'measured_at')
LOG_LIST_FIELDS = ('instance', 'host', 'project', 'allocated_bytes',
                   'growth_bytes_per_hour', 'runaway', 'policy',
                   'last_action')
LOG_LONG_FIELDS = LOG_LIST_FIELDS + ('apparent_bytes', 'rotated_bytes',
                                     'reported_by', 'measured_at',
                                     'last_action_at')
# What people type, and the API's sort keys.
LOG_SORT_KEYS = {'size': 'allocated_bytes', 'growth': 'growth_bytes_per_hour',
                 'allocated_bytes': 'allocated_bytes',
                 'apparent_bytes': 'apparent_bytes',
                 'growth_bytes_per_hour': 'growth_bytes_per_hour',
                 'measured_at': 'measured_at', 'instance': 'instance',
                 'host': 'host'}

_UNITS = {'': 1, 'b': 1, 'k': 1 << 10, 'kb': 1 << 10, 'kib': 1 << 10,
          'm': 1 << 20, 'mb': 1 << 20, 'mib': 1 << 20,
          'g': 1 << 30, 'gb': 1 << 30, 'gib': 1 << 30,
          't': 1 << 40, 'tb': 1 << 40, 'tib': 1 << 40}
_SIZE = re.compile(r'^\s*(\d+)\s*([a-zA-Z]*)\s*$')


def size(text):
    """Bytes, as 1048576 or with a binary unit: 512K, 10M, 2GiB."""
    match = _SIZE.match(text)
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or unit is None or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(
            'must be a positive number of bytes, optionally with K, M, G '
            'or T (binary units), not %r' % text)
    return int(match.group(1)) * unit


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            'must be zero or a positive integer, not %r' % text)
    return value


def scope_text(scope):
    """{"kind": "host", "value": "c01"} -> "host=c01"; global -> global."""
    if not isinstance(scope, dict):
        return scope
    if scope.get('value') in (None, ''):
        return scope.get('kind')
    return '%s=%s' % (scope.get('kind'), scope.get('value'))


def for_display(policy):
    return dict(policy, scope=scope_text(policy.get('scope')))


def action_text(action):
    """A last_action in a few words: 'cut (punch_hole)'."""
    if not isinstance(action, dict):
        return action
    text = action.get('action') or '?'
    if action.get('method'):
        text += ' (%s)' % action['method']
    return text


def _add_scope_options(parser, with_global):
    scope = parser.add_mutually_exclusive_group()
    if with_global:
        scope.add_argument('--global', dest='scope_kind',
                           action='store_const', const='global',
                           help='Apply to every instance')
    scope.add_argument('--project', metavar='<project-id>',
                       help='Apply to the instances of this project')
    scope.add_argument('--host', metavar='<host>',
                       help='Apply to the instances on this compute host')
    scope.add_argument('--instance', metavar='<instance-uuid>',
                       help='Apply to this instance')


def _scope(parsed_args):
    for kind in ('project', 'host', 'instance'):
        value = getattr(parsed_args, kind)
        if value is not None:
            return {'kind': kind, 'value': value}
    if getattr(parsed_args, 'scope_kind', None) == 'global':
        return {'kind': 'global'}
    return None


def _add_limit_options(parser, with_enable):
    parser.add_argument(
        '--backups', type=non_negative_int, metavar='<count>',
        help='Compressed copies of removed heads to keep beside the log, '
             '0 to 32 (server default: 0)')
    parser.add_argument(
        '--mode', choices=MODES,
        help='"report" decides and records but changes no file; '
             '"enforce" cuts (server default: report)')
    if with_enable:
        resource_cli.add_switch(
            parser, 'enabled', '--enable', 'Enable the policy',
            '--disable', 'Disable: skipped when choosing the policy of an '
                         'instance')


class CreateConsolePolicy(show.ShowOne):
    """Create a console-log policy (global unless a scope is given)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='<name>',
                            help='Unique name of the policy')
        parser.add_argument(
            '--max-bytes', type=size, required=True, metavar='<size>',
            help='Cut a log that takes more disk than this (e.g. 10M)')
        parser.add_argument(
            '--keep-bytes', type=size, required=True, metavar='<size>',
            help='Keep this much of its tail, from a line start (e.g. 1M); '
                 'at most --max-bytes')
        _add_scope_options(parser, with_global=False)
        parser.add_argument(
            '--max-age-days', type=argtypes.positive_int, metavar='<days>',
            help='Remove backups older than this (default: keep them by '
                 'count only)')
        _add_limit_options(parser, with_enable=True)
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        policy = client.console_policies.create(
            parsed_args.name, parsed_args.max_bytes, parsed_args.keep_bytes,
            scope=_scope(parsed_args), backups=parsed_args.backups,
            max_age_days=parsed_args.max_age_days, mode=parsed_args.mode,
            enabled=parsed_args.enabled)
        return display.show(for_display(policy), POLICY_FIELDS)


class ListConsolePolicy(resource_cli.ListResource):
    """List console-log policies."""

    noun = 'policies'
    marker_metavar = '<policy-id>'
    marker_help = 'Start after this policy'
    sort_key_help = ('Field to sort by: name (default), created_at, '
                     'updated_at, scope_kind')
    list_fields = POLICY_LIST_FIELDS
    long_fields = POLICY_LONG_FIELDS

    def add_filters(self, parser):
        parser.add_argument('--scope-kind', choices=SCOPE_KINDS,
                            help='Only policies of this scope kind')
        parser.add_argument('--scope-value', metavar='<value>',
                            help='Only policies of this project, host or '
                                 'instance')
        parser.add_argument('--mode', choices=MODES,
                            help='Only policies in this mode')
        resource_cli.add_switch(
            parser, 'enabled', '--enabled', 'Only enabled policies',
            '--disabled', 'Only disabled ones')

    def fetch(self, client, parsed_args, **paging):
        return client.console_policies.list(
            scope_kind=parsed_args.scope_kind,
            scope_value=parsed_args.scope_value, mode=parsed_args.mode,
            enabled=parsed_args.enabled, **paging)

    def for_display(self, item):
        return for_display(item)


class ShowConsolePolicy(resource_cli.ShowResource):
    """Show a console-log policy."""

    argument = 'policy'
    metavar = '<policy>'
    argument_help = 'Policy name or ID'
    fields = POLICY_FIELDS

    def fetch(self, client, ident):
        return for_display(client.console_policies.get(ident))


class SetConsolePolicy(show.ShowOne):
    """Change a console-log policy; only the options given change.

    The agents apply the change on their next sweep.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('policy', metavar='<policy>',
                            help='Policy name or ID')
        parser.add_argument('--name', metavar='<name>', help='New name')
        parser.add_argument('--max-bytes', type=size, metavar='<size>',
                            help='New trigger size')
        parser.add_argument('--keep-bytes', type=size, metavar='<size>',
                            help='New size of the tail kept')
        _add_scope_options(parser, with_global=True)
        age = parser.add_mutually_exclusive_group()
        age.add_argument('--max-age-days', type=argtypes.positive_int,
                         metavar='<days>',
                         help='Remove backups older than this')
        age.add_argument('--no-max-age', action='store_true',
                         help='Keep backups by count only')
        _add_limit_options(parser, with_enable=True)
        return parser

    def take_action(self, parsed_args):
        changes = resource_cli.changes(
            parsed_args, ('name', 'max_bytes', 'keep_bytes', 'backups',
                          'max_age_days', 'mode', 'enabled'))
        if parsed_args.no_max_age:
            # null returns the field to its default in the merge patch.
            changes['max_age_days'] = None
        scope = _scope(parsed_args)
        if scope is not None:
            changes['scope'] = scope
        client = self.app.client_manager.cleanup
        policy = client.console_policies.update(
            parsed_args.policy, resource_cli.require_changes(changes))
        return display.show(for_display(policy), POLICY_FIELDS)


class DeleteConsolePolicy(resource_cli.DeleteResources):
    """Delete console-log policies."""

    argument = 'policies'
    metavar = '<policy>'
    argument_help = 'Policy name or ID; repeat for several'
    one = 'console-log policy'
    many = 'console-log policies'

    def delete(self, client, ident):
        client.console_policies.delete(ident)


class ListConsoleLog(resource_cli.ListResource):
    """List console logs as the agents last measured them."""

    noun = 'console logs'
    marker_metavar = '<instance-uuid>'
    marker_help = 'Start after this instance\'s log'
    sort_key_help = ('Sort by size (allocated bytes, the default), growth, '
                     'apparent_bytes, measured_at, instance or host')
    sort_key_choices = sorted(LOG_SORT_KEYS)
    sort_dir_help = 'Sort direction (default: desc, biggest first)'
    list_fields = LOG_LIST_FIELDS
    long_fields = LOG_LONG_FIELDS

    def add_filters(self, parser):
        parser.add_argument('--host', metavar='<host>',
                            help='Only instances on this compute host')
        parser.add_argument('--project', metavar='<project-id>',
                            help='Only instances of this project')
        parser.add_argument('--reported-by', metavar='<host>',
                            help='Only logs this host\'s agent measured')
        resource_cli.add_switch(
            parser, 'runaway',
            '--runaway', 'Only logs growing faster than the agents\' '
                         'runaway threshold',
            '--no-runaway', 'Only logs that are not runaway')

    def fetch(self, client, parsed_args, sort_key=None, **paging):
        return client.console_logs.list(
            host=parsed_args.host, project=parsed_args.project,
            reported_by=parsed_args.reported_by,
            runaway=parsed_args.runaway,
            sort_key=LOG_SORT_KEYS.get(sort_key), **paging)

    def for_display(self, item):
        return dict(item, last_action=action_text(item.get('last_action')))


class ShowConsoleLog(resource_cli.ShowResource):
    """Show an instance's console log: sizes, policy and why, last action."""

    argument = 'instance'
    metavar = '<instance-uuid>'
    argument_help = 'Instance UUID'
    fields = LOG_FIELDS

    def fetch(self, client, ident):
        return client.console_logs.get(ident)
