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

"""Commands for the audit log: cryptkeeper audit list|show|verify."""

from cliff import show

from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import resource_cli

SHOW_FIELDS = ('id', 'created_at', 'action', 'resource_type', 'resource_id',
               'outcome', 'reason', 'user_id', 'project_id', 'request_id',
               'details', 'prev_hash', 'hash')
LIST_FIELDS = ('id', 'created_at', 'action', 'resource_type', 'resource_id',
               'user_id', 'outcome')
LONG_FIELDS = LIST_FIELDS + ('project_id', 'request_id', 'reason')
VERIFY_FIELDS = ('valid', 'records', 'head', 'first_broken', 'reason')


class ListAudit(resource_cli.ListResource):
    """List audit records."""

    noun = 'records'
    marker_metavar = '<record-id>'
    marker_help = 'Start after this record'
    list_fields = LIST_FIELDS
    long_fields = LONG_FIELDS

    def add_filters(self, parser):
        parser.add_argument('--action', metavar='<action>',
                            help='Only records of this action')
        parser.add_argument('--resource-type', metavar='<type>',
                            help='Only records about this kind of resource')
        parser.add_argument('--resource-id', metavar='<id>',
                            help='Only records about this resource')
        parser.add_argument('--user-id', metavar='<user-id>',
                            help='Only records of requests by this user')
        parser.add_argument('--outcome', metavar='<outcome>',
                            help='Only records with this outcome')
        parser.add_argument('--since', metavar='<time>',
                            help='Only records at or after this ISO 8601 '
                                 'time')
        parser.add_argument('--until', metavar='<time>',
                            help='Only records before this ISO 8601 time')

    def fetch(self, client, parsed_args, **paging):
        return client.audit.list(
            action=parsed_args.action,
            resource_type=parsed_args.resource_type,
            resource_id=parsed_args.resource_id,
            user_id=parsed_args.user_id, outcome=parsed_args.outcome,
            since=parsed_args.since, until=parsed_args.until, **paging)


class ShowAudit(resource_cli.ShowResource):
    """Show one audit record."""

    argument = 'record_id'
    metavar = '<record-id>'
    argument_help = 'Audit record ID'
    argument_type = staticmethod(argtypes.positive_int)
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.audit.get(ident)


class VerifyAudit(show.ShowOne):
    """Check the audit log's hash chain; exit 1 if it is broken."""

    _broken = False

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        verdict = client.audit.verify()
        self._broken = verdict.get('valid') is not True
        if self._broken:
            self.app.stderr.write(
                'The audit log is broken at record %s: %s\n'
                % (verdict.get('first_broken'),
                   verdict.get('reason') or 'no reason given'))
        return display.show(verdict, VERIFY_FIELDS)

    def run(self, parsed_args):
        result = super().run(parsed_args)
        return result or (1 if self._broken else 0)
