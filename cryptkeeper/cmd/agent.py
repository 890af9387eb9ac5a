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

"""cryptkeeper-agent: the compute-host agent, forever or --once."""

import sys

from oslo_log import log

from cryptkeeper.agent import client as agent_client
from cryptkeeper.agent import service as agent_service
from cryptkeeper.common import service
from cryptkeeper import conf
from cryptkeeper.conf import agent as agent_conf

CONF = conf.CONF
LOG = log.getLogger(__name__)


def main(argv=None):
    agent_conf.register_cli_opts(CONF)
    service.prepare_service(sys.argv[1:] if argv is None else argv)
    try:
        agent = agent_service.Agent()
        if CONF.once:
            return 0 if agent.run_once() else 1
        agent.run()
    except (agent_client.ConfigError, agent_service.AlreadyRunning) as exc:
        LOG.error('%s', exc)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
