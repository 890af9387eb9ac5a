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

"""Policy rules of /v1/agents: what compute-host agents may report."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

AGENT = 'cryptkeeper:agent:%s'
# The agents authenticate with Keystone service credentials; admin too,
# so the noauth quickstart (which acts as admin) works without Keystone.
# A service user gets nothing else: it cannot read jobs or the audit log.
SERVICE_OR_ADMIN = 'role:service or role:admin'
_ITEM = '/v1/agents/{host}'

rules = [
    policy.DocumentedRuleDefault(
        name=AGENT % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List the compute-host agents and their last sweep.',
        operations=[{'path': '/v1/agents', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AGENT % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show a compute-host agent.',
        operations=[{'path': _ITEM, 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AGENT % 'heartbeat',
        check_str=SERVICE_OR_ADMIN,
        description='Report that an agent is alive, and the end of a '
                    'sweep.',
        operations=[{'path': _ITEM + '/heartbeat', 'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AGENT % 'console_policies',
        # A read of what /v1/console-policies shows anyway, so the
        # auditor may see exactly what the agents are given.
        check_str='%s or %s' % (SERVICE_OR_ADMIN,
                                base.ADMIN_OR_SYSTEM_READER),
        description='Fetch the console-log policies an agent applies.',
        operations=[{'path': _ITEM + '/console-policies', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AGENT % 'report_console_logs',
        check_str=SERVICE_OR_ADMIN,
        description='Report console-log measurements and actions.',
        operations=[{'path': _ITEM + '/console-logs', 'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
