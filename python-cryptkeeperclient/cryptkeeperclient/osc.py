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

"""openstackclient plugin: adds "openstack cryptkeeper ..." commands."""

from osc_lib import utils

API_NAME = 'cleanup'
API_VERSION_OPTION = 'os_cleanup_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {
    '1': 'cryptkeeperclient.v1.client.Client',
}

# openstackclient derives this name from API_NAME and the major version;
# the standalone shell loads the same namespace.
COMMAND_NAMESPACE = 'openstack.%s.v%s' % (API_NAME, DEFAULT_API_VERSION)


def make_client(instance):
    """Return a cleanup client built on openstackclient's session."""
    version = instance._api_version[API_NAME]
    client_class = utils.get_client_class(API_NAME, version, API_VERSIONS)
    override = instance.get_configuration().get(
        '%s_endpoint_override' % API_NAME)
    return client_class(session=instance.session,
                        interface=instance.interface,
                        region_name=instance.region_name,
                        endpoint_override=override)


def build_option_parser(parser):
    """Add the plugin's global options to openstackclient's parser."""
    parser.add_argument(
        '--os-cleanup-api-version',
        metavar='<cleanup-api-version>',
        default=utils.env('OS_CLEANUP_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='Cleanup (cryptkeeper) API version, default=%s '
             '(Env: OS_CLEANUP_API_VERSION)' % DEFAULT_API_VERSION)
    return parser
