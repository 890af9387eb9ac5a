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

"""Policy rules of /v1/console-logs."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

CONSOLE_LOG = 'cryptkeeper:console_log:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=CONSOLE_LOG % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List the console logs the agents measured.',
        operations=[{'path': '/v1/console-logs', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=CONSOLE_LOG % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show the console log of an instance.',
        operations=[{'path': '/v1/console-logs/{instance}',
                     'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
