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

"""Policy rules of /v1/console-policies."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

CONSOLE_POLICY = 'cryptkeeper:console_policy:%s'
_COLLECTION = '/v1/console-policies'
_ITEM = '/v1/console-policies/{policy}'

rules = [
    policy.DocumentedRuleDefault(
        name=CONSOLE_POLICY % 'create',
        check_str=base.ADMIN,
        description='Create a console-log policy.',
        operations=[{'path': _COLLECTION, 'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=CONSOLE_POLICY % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List console-log policies.',
        operations=[{'path': _COLLECTION, 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=CONSOLE_POLICY % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show a console-log policy, or which policy applies '
                    'to an instance and why.',
        operations=[{'path': _ITEM, 'method': 'GET'},
                    {'path': _COLLECTION + '/effective', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=CONSOLE_POLICY % 'update',
        check_str=base.ADMIN,
        description='Change a console-log policy.',
        operations=[{'path': _ITEM, 'method': 'PATCH'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=CONSOLE_POLICY % 'delete',
        check_str=base.ADMIN,
        description='Delete a console-log policy.',
        operations=[{'path': _ITEM, 'method': 'DELETE'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
