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

"""Commands for targets: cryptkeeper target list|show|census."""

from cliff import lister

from cryptkeeperclient.v1 import display
from cryptkeeperclient.v1 import resource_cli

SHOW_FIELDS = ('name', 'profile', 'connection', 'api_target', 'reachable',
               'checked_at', 'error')
LIST_FIELDS = ('name', 'profile', 'reachable', 'checked_at')
LONG_FIELDS = LIST_FIELDS + ('connection', 'api_target', 'error')
CENSUS_FIELDS = ('job_id', 'finished_at', 'tables')


class ListTarget(lister.Lister):
    """List the targets defined in the service's configuration."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='Show more columns')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        fields = LONG_FIELDS if parsed_args.long else LIST_FIELDS
        return display.rows(client.targets.list(), fields)


class ShowTarget(resource_cli.ShowResource):
    """Show a target: profile, redacted connection, reachability."""

    argument = 'name'
    metavar = '<name>'
    argument_help = 'Target name'
    fields = SHOW_FIELDS

    def fetch(self, client, ident):
        return client.targets.get(ident)


class ShowTargetCensus(ShowTarget):
    """Show the latest successful census of a target."""

    fields = CENSUS_FIELDS

    def fetch(self, client, ident):
        return client.targets.census(ident)
