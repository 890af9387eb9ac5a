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

"""Manager for cryptkeeper schedules (/v1/schedules)."""

import uuid

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import base


def is_uuid(text):
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


class ScheduleManager(base.Manager):
    """Create, list, show, change and delete schedules."""

    path = '/v1/schedules'

    def create(self, name, cron, target, params=None, job_type='purge',
               enabled=True):
        """Create a schedule; the API answers 201 with it."""
        job = {'type': job_type, 'target': target}
        if params:
            job['params'] = params
        return self._post(self.path, {'name': name, 'cron': cron,
                                      'enabled': enabled, 'job': job})

    def list(self, name=None, target=None, enabled=None, limit=None,
             marker=None, sort_key=None, sort_dir=None):
        """List schedules."""
        params = {'name': name, 'target': target,
                  'enabled': base.query_bool(enabled),
                  'marker': marker, 'sort_key': sort_key,
                  'sort_dir': sort_dir}
        return self._list(self.path, 'schedules', params, limit=limit)

    def get(self, schedule_id):
        """Return one schedule by ID."""
        return self._get(self._item(schedule_id))

    def find(self, name_or_id):
        """Return one schedule by ID or by name."""
        if is_uuid(name_or_id):
            return self.get(name_or_id)
        found = self.list(name=name_or_id)
        if len(found) != 1:
            raise exceptions.CommandError(
                'No schedule with name or ID %s' % name_or_id)
        return found[0]

    def update(self, schedule_id, changes):
        """Change a schedule with a JSON merge patch; returns it.

        ``changes`` holds the fields to change; a job parameter set to
        None is removed.
        """
        return self._patch(self._item(schedule_id), changes)

    def delete(self, schedule_id):
        """Delete a schedule; the jobs it created stay."""
        self.api.delete(self._item(schedule_id))
