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

"""Policy rules of /v1/jobs."""

from oslo_policy import policy

from cryptkeeper.common.policies import base

JOB = 'cryptkeeper:job:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=JOB % 'create',
        check_str=base.ADMIN,
        description='Create a job.',
        operations=[{'path': '/v1/jobs', 'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=JOB % 'get_all',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='List jobs.',
        operations=[{'path': '/v1/jobs', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=JOB % 'get',
        check_str=base.ADMIN_OR_SYSTEM_READER,
        description='Show a job.',
        operations=[{'path': '/v1/jobs/{job_id}', 'method': 'GET'}],
        scope_types=base.SCOPE_TYPES),
    policy.DocumentedRuleDefault(
        name=JOB % 'cancel',
        check_str=base.ADMIN,
        description='Cancel a job.',
        operations=[{'path': '/v1/jobs/{job_id}/cancel',
                     'method': 'POST'}],
        scope_types=base.SCOPE_TYPES),
]


def list_rules():
    return rules
