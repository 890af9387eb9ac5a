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

"""Manager for the audit log (/v1/audit)."""

from cryptkeeperclient.v1 import base


class AuditManager(base.Manager):
    """List, show and verify audit records; the API never changes them."""

    path = '/v1/audit'

    def list(self, action=None, resource_type=None, resource_id=None,
             user_id=None, outcome=None, since=None, until=None,
             limit=None, marker=None):
        """List audit records matching every filter given."""
        params = {'action': action, 'resource_type': resource_type,
                  'resource_id': resource_id, 'user_id': user_id,
                  'outcome': outcome, 'since': since, 'until': until,
                  'marker': marker}
        return self._list(self.path, 'audit', params, limit=limit)

    def get(self, record_id):
        """Return one audit record."""
        return self._get(self._item(record_id))

    def verify(self):
        """Check the hash chain; returns the API's verdict."""
        return self._get('%s/verify' % self.path)
