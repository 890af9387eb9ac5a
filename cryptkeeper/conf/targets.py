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

"""Per-target option groups [target:NAME], registered from [DEFAULT] targets.

Targets come only from the configuration file: the API can list them but
never add one, so a request can never point cryptkeeper at a database.
"""

from oslo_config import cfg

PROFILES = ('nova', 'nova_api', 'cinder', 'glance', 'heat', 'generic')
GROUP_PREFIX = 'target:'

opts = [
    cfg.StrOpt('profile', default='generic', choices=PROFILES,
               help='Schema profile of the target: which service owns '
                    'the database, and so which soft-delete facts apply.'),
    cfg.StrOpt('connection', secret=True,
               help='SQLAlchemy URL of the target database. Required.'),
    cfg.StrOpt('api_target',
               help='For a nova cell target: the name of the nova_api '
                    'target holding its API database.'),
    cfg.StrOpt('archive_connection', secret=True,
               help='SQLAlchemy URL of the archive database of this '
                    'target for purge jobs with backend "database"; '
                    'overrides [purge] archive_connection.'),
]


def group_name(name):
    return GROUP_PREFIX + name


def register_target_opts(conf):
    """Register one [target:NAME] group per name in [DEFAULT] targets."""
    for name in conf.targets:
        conf.register_opts(opts, group=group_name(name))


def get_target(conf, name):
    """Return the option group of a configured target, or None."""
    if name not in conf.targets:
        return None
    return conf[group_name(name)]


def list_opts():
    # A template group so the sample config shows what each target needs.
    return {group_name('NAME'): opts}
