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

"""Default policy rules, one module per resource."""

import itertools

from cryptkeeper.common.policies import agent
from cryptkeeper.common.policies import audit
from cryptkeeper.common.policies import base
from cryptkeeper.common.policies import console_log
from cryptkeeper.common.policies import console_policy
from cryptkeeper.common.policies import job
from cryptkeeper.common.policies import schedule
from cryptkeeper.common.policies import target


def list_rules():
    return itertools.chain(
        base.list_rules(),
        job.list_rules(),
        audit.list_rules(),
        target.list_rules(),
        schedule.list_rules(),
        console_policy.list_rules(),
        console_log.list_rules(),
        agent.list_rules(),
    )
