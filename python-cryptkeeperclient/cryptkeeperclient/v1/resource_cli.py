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

"""Bases of the commands that list, show and delete API resources.

The resources page, sort and fail alike, so their commands share the
options and the output here; each subclass names only what differs.
"""

import abc

from cliff import command
from cliff import lister
from cliff import show

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import argtypes
from cryptkeeperclient.v1 import display


def add_switch(parser, dest, on, on_help, off, off_help):
    """Two exclusive flags that set ``dest`` true or false.

    Neither given leaves it None, which the API reads as "either".
    """
    switch = parser.add_mutually_exclusive_group()
    switch.add_argument(on, dest=dest, action='store_true', default=None,
                        help=on_help)
    switch.add_argument(off, dest=dest, action='store_false', help=off_help)


def changes(parsed_args, fields):
    """The options among ``fields`` that were given, by their dest."""
    return {field: getattr(parsed_args, field) for field in fields
            if getattr(parsed_args, field) is not None}


def require_changes(changed):
    """Refuse a set command that would send an empty patch."""
    if not changed:
        raise exceptions.CommandError(
            'Nothing to change; give at least one option')
    return changed


class ListResource(lister.Lister):
    """List what ``fetch`` returns, a page or every page, as a table.

    Subclasses add their filters in ``add_filters`` and name the marker,
    the sort keys (or none, where the API sorts one way only) and the
    columns.
    """

    # "Fetch one page of at most this many <noun>".
    noun = 'items'
    marker_metavar = '<id>'
    marker_help = 'Start after this item'
    # None: no --sort-key nor --sort-dir.
    sort_key_help = None
    sort_key_choices = None
    sort_dir_help = 'Sort direction'
    list_fields = ()
    long_fields = ()

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        self.add_filters(parser)
        parser.add_argument(
            '--limit', type=argtypes.positive_int, metavar='<count>',
            help='Fetch one page of at most this many %s (default: '
                 'follow the pages the API offers)' % self.noun)
        parser.add_argument('--marker', metavar=self.marker_metavar,
                            help=self.marker_help)
        if self.sort_key_help is not None:
            if self.sort_key_choices is None:
                parser.add_argument('--sort-key', metavar='<field>',
                                    help=self.sort_key_help)
            else:
                parser.add_argument('--sort-key', metavar='<key>',
                                    choices=self.sort_key_choices,
                                    help=self.sort_key_help)
            parser.add_argument('--sort-dir', choices=('asc', 'desc'),
                                help=self.sort_dir_help)
        parser.add_argument('--long', action='store_true',
                            help='Show more columns')
        return parser

    def add_filters(self, parser):
        """Add the options that narrow the list down."""

    @abc.abstractmethod
    def fetch(self, client, parsed_args, **paging):
        """Return the items (dicts); ``paging`` goes to the manager."""

    def for_display(self, item):
        """The item as its columns show it."""
        return item

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        paging = {'limit': parsed_args.limit, 'marker': parsed_args.marker}
        if self.sort_key_help is not None:
            paging.update(sort_key=parsed_args.sort_key,
                          sort_dir=parsed_args.sort_dir)
        items = self.fetch(client, parsed_args, **paging)
        fields = self.long_fields if parsed_args.long else self.list_fields
        return display.rows([self.for_display(i) for i in items], fields)


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


class DeleteResources(command.Command):
    """Delete each resource named on the command line.

    One that fails is reported and the rest are still deleted; the
    command fails at the end if any did.
    """

    argument = 'ids'
    metavar = '<id>'
    argument_help = 'ID; repeat for several'
    # "Failed to delete <one> ...", "... of N <many> could not be deleted".
    one = 'item'
    many = 'items'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(self.argument, metavar=self.metavar, nargs='+',
                            help=self.argument_help)
        return parser

    @abc.abstractmethod
    def delete(self, client, ident):
        """Delete the resource named by ``ident``."""

    def take_action(self, parsed_args):
        client = self.app.client_manager.cleanup
        idents = getattr(parsed_args, self.argument)
        failed = 0
        for ident in idents:
            try:
                self.delete(client, ident)
            except exceptions.ClientException as exc:
                failed += 1
                self.app.stderr.write('Failed to delete %s %s: %s\n'
                                      % (self.one, ident, exc))
        if failed:
            raise exceptions.CommandError(
                '%d of %d %s could not be deleted'
                % (failed, len(idents), self.many))
