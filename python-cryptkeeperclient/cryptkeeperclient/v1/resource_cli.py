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

"""A command that fetches one resource by its identifier and shows it."""

import abc

from cliff import show

from cryptkeeperclient.v1 import display


class ShowResource(show.ShowOne):
    """Show what ``fetch`` returns for the identifier on the command line.

    Subclasses name the argument and the fields, and say how to fetch.
    """

    argument = 'id'
    metavar = '<id>'
    argument_help = 'ID'
    argument_type = str
    fields = ()

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(self.argument, type=self.argument_type,
                            metavar=self.metavar, help=self.argument_help)
        return parser

    @abc.abstractmethod
    def fetch(self, client, ident):
        """Return the resource (a dict) named by ``ident``."""

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        return display.show(
            self.fetch(client, getattr(parsed_args, self.argument)),
            self.fields)
