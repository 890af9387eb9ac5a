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

"""Options of the [coordination] group (tooz)."""

from oslo_config import cfg

coordination_group = cfg.OptGroup('coordination',
                                  title='Coordination options')

opts = [
    cfg.StrOpt('backend_url',
               default='file://$state_path/locks',
               secret=True,
               help='tooz URL of the coordination backend for locks '
                    'between workers. The default file backend only '
                    'coordinates processes on one host; use etcd3, '
                    'zookeeper, redis or mysql:// in production.'),
]


def register_opts(conf):
    conf.register_group(coordination_group)
    conf.register_opts(opts, group=coordination_group)


def list_opts():
    return {coordination_group: opts}
