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

"""Manager for console logs (/v1/console-logs) as the agents report them."""

from cryptkeeperclient.v1 import base


class ConsoleLogManager(base.Manager):
    """List and show the console logs the agents measured."""

    path = '/v1/console-logs'

    def list(self, host=None, project=None, reported_by=None, runaway=None,
             limit=None, marker=None, sort_key=None, sort_dir=None):
        """List console logs; by default the biggest first."""
        params = {'host': host, 'project': project,
                  'reported_by': reported_by,
                  'runaway': base.query_bool(runaway),
                  'marker': marker, 'sort_key': sort_key,
                  'sort_dir': sort_dir}
        return self._list(self.path, 'console_logs', params, limit=limit)

    def get(self, instance):
        """Return the console log of one instance."""
        return self._get(self._item(instance))
