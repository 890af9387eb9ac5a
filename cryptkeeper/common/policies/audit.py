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

"""Policy rules of /v1/audit."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

AUDIT = 'cryptkeeper:audit:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=AUDIT % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List audit records.',
        operations=[{'path': '/v1/audit', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AUDIT % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show an audit record.',
        operations=[{'path': '/v1/audit/{record_id}', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=AUDIT % 'verify',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Verify the hash chain of the audit log.',
        operations=[{'path': '/v1/audit/verify', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
