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

"""Client for version 1 of the cryptkeeper API."""

from cryptkeeperclient import client
from cryptkeeperclient.v1 import audit
from cryptkeeperclient.v1 import console_logs
from cryptkeeperclient.v1 import console_policies
from cryptkeeperclient.v1 import jobs
from cryptkeeperclient.v1 import schedules
from cryptkeeperclient.v1 import targets


class Client:
    """Entry point to the v1 managers: jobs, audit and targets."""

    def __init__(self, session=None, http_client=None, **kwargs):
        """Build on a keystoneauth1 session, or on a ready SessionClient.

        kwargs go to SessionClient: interface, region_name,
        endpoint_override and the other keystoneauth1 adapter options.
        """
        if http_client is None:
            http_client = client.SessionClient(session, **kwargs)
        self.http_client = http_client
        self.jobs = jobs.JobManager(http_client)
        self.audit = audit.AuditManager(http_client)
        self.targets = targets.TargetManager(http_client)
        self.schedules = schedules.ScheduleManager(http_client)
        self.console_policies = console_policies.ConsolePolicyManager(
            http_client)
        self.console_logs = console_logs.ConsoleLogManager(http_client)
