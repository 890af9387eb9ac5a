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

"""Policy rules of /v1/targets."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

TARGET = 'cryptkeeper:target:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=TARGET % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List the configured targets.',
        operations=[{'path': '/v1/targets', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=TARGET % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show a configured target.',
        operations=[{'path': '/v1/targets/{name}', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=TARGET % 'census',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show the latest census of a target.',
        operations=[{'path': '/v1/targets/{name}/census',
                     'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
