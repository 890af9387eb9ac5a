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

"""Options of the [api] group."""

from oslo_config import cfg

api_group = cfg.OptGroup('api', title='REST API options')

opts = [
    cfg.HostAddressOpt('host',
                       help='Address the standalone cryptkeeper-api server '
                            'listens on. Unset means 0.0.0.0 with keystone '
                            'authentication and 127.0.0.1 with noauth, so a '
                            'server without authentication is never '
                            'reachable from the network by accident.'),
    cfg.PortOpt('port', default=9779,
                help='Port the standalone cryptkeeper-api server listens '
                     'on.'),
    cfg.StrOpt('auth_strategy', default='keystone',
               choices=[('keystone', 'Validate tokens with keystonemiddleware'
                                     ' auth_token.'),
                        ('noauth', 'No authentication: every request acts '
                                   'as admin. Local use only.')],
               help='How API requests are authenticated.'),
    cfg.IntOpt('max_limit', default=1000, min=1, max=10000,
               help='The largest page a collection returns; a request '
                    'asking for more is refused with 400.'),
    cfg.IntOpt('default_limit', default=100, min=1, max=10000,
               help='Page size of a collection when a request gives no '
                    'limit.'),
    cfg.IntOpt('max_request_body_size', default=65536, min=1024,
               max=16 * 1024 * 1024,
               help='Largest request body accepted, in bytes; larger '
                    'bodies are refused with 413.'),
    cfg.URIOpt('public_endpoint',
               help='Base URL used in links of responses, for an API '
                    'behind a proxy. Unset means the request URL.'),
    cfg.BoolOpt('run_worker', default=False,
                help='Run a job worker inside the cryptkeeper-api '
                     'process. For the single-process quickstart; '
                     'production runs cryptkeeper-worker separately.'),
]


def register_opts(conf):
    conf.register_group(api_group)
    conf.register_opts(opts, group=api_group)


def list_opts():
    return {api_group: opts}
