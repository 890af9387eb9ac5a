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

"""Options of [service_credentials]: how the agent authenticates to the API.

keystoneauth1's own loading options (auth_type, auth_url, username, ...,
cafile, insecure, timeout) are registered here as well; they are
keystoneauth1's and documented by it, so they are not listed for the
sample generator with cryptkeeper's options.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'service_credentials'
service_credentials_group = cfg.OptGroup(
    GROUP, title='Keystone credentials of the compute-host agent')

opts = [
    cfg.StrOpt('interface', default='internal',
               choices=[('public', 'The public endpoint.'),
                        ('internal', 'The internal endpoint, reached '
                                     'without leaving the management '
                                     'network.'),
                        ('admin', 'The admin endpoint.')],
               help='Which endpoint of service type "cleanup" the agent '
                    'takes from the Keystone catalog.'),
    cfg.StrOpt('region_name',
               help='Region of the catalog endpoint; unset takes the only '
                    'one.'),
]


def register_opts(conf):
    conf.register_group(service_credentials_group)
    conf.register_opts(opts, group=service_credentials_group)
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)


def list_opts():
    return {service_credentials_group: opts}
