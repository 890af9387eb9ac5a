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

"""The standalone "cryptkeeper" command."""

import argparse
import logging
import sys

from cliff import app
from cliff import commandmanager
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading
from keystoneauth1 import session as ks_session
from osc_lib.cli import client_config
from osc_lib import utils

import cryptkeeperclient
from cryptkeeperclient import client
from cryptkeeperclient import exceptions
from cryptkeeperclient import osc
from cryptkeeperclient.v1 import client as v1_client

# Commands are registered once, for openstackclient, as "cryptkeeper ...".
PREFIX = 'cryptkeeper '

NO_CREDENTIALS = (
    'No credentials (%s). Use --os-cloud or OS_CLOUD, the OS_* variables '
    '(OS_AUTH_URL, OS_USERNAME, ...), or --os-endpoint URL alone for a '
    'server running without authentication')


class CommandManager(commandmanager.CommandManager):
    """Loads the openstackclient plugin's commands without their prefix."""

    def load_commands(self, namespace):
        super().load_commands(namespace)
        for name in [n for n in self.commands if n.startswith(PREFIX)]:
            self.commands[name[len(PREFIX):]] = self.commands.pop(name)


def _peek(argv):
    """Read early the options that decide which auth options exist."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False,
                                     exit_on_error=False)
    parser.add_argument('--os-cloud', default=utils.env('OS_CLOUD'))
    parser.add_argument('--os-auth-type', '--os-auth-plugin',
                        default=utils.env('OS_AUTH_TYPE', 'OS_AUTH_PLUGIN'))
    try:
        options, _rest = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        # The full parser reports the mistake with the proper usage.
        options = parser.parse_known_args([])[0]
    return options


def _default_auth_type(peeked):
    if peeked.os_auth_type:
        return peeked.os_auth_type
    if peeked.os_cloud:
        try:
            cloud = client_config.OSC_Config().get_one(
                cloud=peeked.os_cloud, validate=False)
            return cloud.config.get('auth_type') or 'password'
        except Exception:
            # The same lookup fails again, as one line, when a command
            # runs; --help must still work meanwhile.
            return 'password'
    return 'password'


def _add_connection_options(parser):
    parser.add_argument(
        '--os-cloud', metavar='<name>', default=utils.env('OS_CLOUD'),
        help='Cloud name in clouds.yaml (Env: OS_CLOUD)')
    parser.add_argument(
        '--os-endpoint', dest='cryptkeeper_endpoint', metavar='<url>',
        default=utils.env('CRYPTKEEPER_ENDPOINT'),
        help='URL of the cryptkeeper API. Without any authentication '
             'option, requests are sent unauthenticated, for a local '
             'server with auth_strategy=noauth (Env: CRYPTKEEPER_ENDPOINT)')
    parser.add_argument(
        '--os-region-name', metavar='<region>',
        default=utils.env('OS_REGION_NAME'),
        help='Region of the cleanup endpoint (Env: OS_REGION_NAME)')
    parser.add_argument(
        '--os-interface', metavar='<interface>',
        default=utils.env('OS_INTERFACE'),
        help='Endpoint interface: public, internal or admin; default '
             'public (Env: OS_INTERFACE)')
    parser.add_argument(
        '--os-cacert', metavar='<ca-bundle-file>',
        default=utils.env('OS_CACERT'),
        help='CA certificate bundle file (Env: OS_CACERT)')
    parser.add_argument(
        '--os-cert', metavar='<certificate-file>',
        default=utils.env('OS_CERT'),
        help='Client certificate file (Env: OS_CERT)')
    parser.add_argument(
        '--os-key', metavar='<key-file>', default=utils.env('OS_KEY'),
        help='Client certificate key file (Env: OS_KEY)')
    parser.add_argument(
        '--insecure', action='store_true', default=None,
        help='Do not verify the server certificate')


def _add_auth_options(parser, auth_type):
    parser.add_argument(
        '--os-auth-type', '--os-auth-plugin', metavar='<name>',
        default=auth_type,
        help='Authentication plugin, default %s (Env: OS_AUTH_TYPE)'
             % auth_type)
    if auth_type == 'none':
        return
    try:
        loader = loading.get_plugin_loader(auth_type)
    except ks_exc.NoMatchingPlugin:
        # Reported as one line when a command needs authentication.
        return
    group = parser.add_argument_group(
        'Authentication options', 'Options of the %s plugin' % auth_type)
    for opt in loader.get_options():
        try:
            group.add_argument(*opt.argparse_args,
                               default=opt.argparse_default,
                               metavar=opt.metavar, help=opt.help,
                               dest='os_%s' % opt.dest)
        except argparse.ArgumentError:
            # One of ours already has the name (--os-endpoint).
            continue


class ClientManager:
    """Builds the cleanup client the first time a command needs it."""

    def __init__(self, options, explicit_auth_type=None):
        self._options = options
        self._explicit_auth_type = explicit_auth_type
        self._cleanup = None

    @property
    def cleanup(self):
        """The v1 client, as client_manager.cleanup is in openstackclient."""
        if self._cleanup is None:
            self._cleanup = self._make_client()
        return self._cleanup

    def wants_auth(self):
        """Whether any option asks for Keystone authentication."""
        opts = self._options
        return bool(opts.os_cloud or getattr(opts, 'os_auth_url', None)
                    or self._explicit_auth_type not in (None, 'none'))

    def _make_client(self):
        opts = self._options
        endpoint = opts.cryptkeeper_endpoint
        if endpoint and not self.wants_auth():
            session = ks_session.Session(
                verify=self._verify(), cert=self._cert(),
                app_name='cryptkeeper',
                app_version=cryptkeeperclient.__version__)
            return v1_client.Client(session=session,
                                    endpoint_override=endpoint)
        try:
            cloud = client_config.OSC_Config(
                override_defaults={'interface': 'public'}).get_one(
                    cloud=opts.os_cloud, argparse=opts, validate=True)
        except Exception as exc:
            # openstacksdk's config errors can span several lines; the
            # user gets one, and --debug still shows the chained original.
            message = str(exc)
            if not self.wants_auth():
                message = NO_CREDENTIALS % message
            raise exceptions.CommandError(message) from exc
        service = client.SERVICE_TYPE
        return v1_client.Client(
            session=cloud.get_session(),
            interface=cloud.get_interface(service),
            region_name=cloud.get_region_name(service),
            endpoint_override=endpoint or cloud.get_endpoint(service))

    def _verify(self):
        if self._options.insecure:
            return False
        return self._options.os_cacert or True

    def _cert(self):
        if self._options.os_cert and self._options.os_key:
            return (self._options.os_cert, self._options.os_key)
        return self._options.os_cert


class CryptkeeperShell(app.App):
    """Command-line client for the cryptkeeper cleanup service."""

    # Failures print as one "ERROR: ..." line; --debug adds the traceback.
    CONSOLE_MESSAGE_FORMAT = '%(levelname)s: %(message)s'

    # Libraries narrate their retries and fallbacks; at the default
    # verbosity only our own warnings and the final error are shown.
    QUIET_LOGGERS = ('keystoneauth', 'openstack', 'osc_lib', 'requests',
                     'stevedore', 'urllib3')

    def __init__(self, argv=(), **kwargs):
        self._peeked = _peek(list(argv))
        super().__init__(
            description=self.__class__.__doc__,
            version=cryptkeeperclient.__version__,
            command_manager=CommandManager(osc.COMMAND_NAMESPACE),
            deferred_help=True, **kwargs)
        self.client_manager = None

    def build_option_parser(self, description, version,
                            argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        _add_connection_options(parser)
        _add_auth_options(parser, _default_auth_type(self._peeked))
        return parser

    def configure_logging(self):
        if self.options.debug:
            self.options.verbose_level = 3
        super().configure_logging()
        for name in self.QUIET_LOGGERS:
            # Plugin loading details help nobody, even when debugging.
            if self.options.verbose_level <= 1 or name == 'stevedore':
                logging.getLogger(name).setLevel(logging.ERROR)

    def initialize_app(self, argv):
        self.client_manager = ClientManager(self.options,
                                            self._peeked.os_auth_type)


def main(argv=None):
    """Run the cryptkeeper command and return its exit code."""
    if argv is None:
        argv = sys.argv[1:]
    return CryptkeeperShell(argv).run(argv)


if __name__ == '__main__':
    sys.exit(main())
