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

"""Policy rules of /v1/schedules."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

SCHEDULE = 'cryptkeeper:schedule:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=SCHEDULE % 'create',
        check_str=base.ADMIN,
        description='Create a schedule.',
        operations=[{'path': '/v1/schedules', 'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=SCHEDULE % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List schedules.',
        operations=[{'path': '/v1/schedules', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=SCHEDULE % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show a schedule.',
        operations=[{'path': '/v1/schedules/{schedule_id}',
                     'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=SCHEDULE % 'update',
        check_str=base.ADMIN,
        description='Change a schedule.',
        operations=[{'path': '/v1/schedules/{schedule_id}',
                     'method': 'PATCH'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=SCHEDULE % 'delete',
        check_str=base.ADMIN,
        description='Delete a schedule.',
        operations=[{'path': '/v1/schedules/{schedule_id}',
                     'method': 'DELETE'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
