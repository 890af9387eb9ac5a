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

"""Options of the [DEFAULT] group: paths, host name and targets."""

import os
import socket

from oslo_config import cfg

_DEFAULT_STATE = os.environ.get(
    'CRYPTKEEPER_STATE_PATH',
    os.path.join(os.path.expanduser('~'), '.local', 'share', 'cryptkeeper'))

opts = [
    cfg.StrOpt('state_path',
               default=_DEFAULT_STATE,
               sample_default='~/.local/share/cryptkeeper',
               help='Directory where cryptkeeper keeps local state: the '
                    'SQLite database of the quickstart and file locks. '
                    'Defaults to $CRYPTKEEPER_STATE_PATH when set.'),
    cfg.HostAddressOpt('host',
                       default=socket.gethostname(),
                       sample_default='localhost',
                       help='Name of this host, recorded on the jobs a '
                            'worker claims and in the audit log.'),
    cfg.ListOpt('targets',
                default=[],
                help='Names of the databases cryptkeeper may clean. Each '
                     'name needs a [target:NAME] group with its profile '
                     'and connection. Targets are defined here only, '
                     'never through the API.'),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return {'DEFAULT': opts}
