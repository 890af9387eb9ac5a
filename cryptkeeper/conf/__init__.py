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

"""cryptkeeper's configuration: one module per option group."""

from oslo_config import cfg

from cryptkeeper.conf import agent
from cryptkeeper.conf import api
from cryptkeeper.conf import coordination
from cryptkeeper.conf import database
from cryptkeeper.conf import default
from cryptkeeper.conf import purge
from cryptkeeper.conf import service_credentials
from cryptkeeper.conf import worker

CONF = cfg.CONF

default.register_opts(CONF)
agent.register_opts(CONF)
api.register_opts(CONF)
coordination.register_opts(CONF)
database.register_opts(CONF)
purge.register_opts(CONF)
service_credentials.register_opts(CONF)
worker.register_opts(CONF)
