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

"""Manager for cryptkeeper jobs (/v1/jobs)."""

import time

from cryptkeeperclient import exceptions
from cryptkeeperclient.v1 import base

# A purge job that left rows behind ends 'partial': ended, but not well.
TERMINAL_STATES = frozenset(['succeeded', 'partial', 'failed', 'cancelled'])
UNSUCCESSFUL_STATES = frozenset(['partial', 'failed', 'cancelled'])


class JobManager(base.Manager):
    """Create, list, show, cancel and wait for jobs."""

    path = '/v1/jobs'

    def create(self, job_type, target, params=None):
        """Create a job; the API answers 202 with the pending job."""
        body = {'type': job_type, 'target': target}
        if params:
            body['params'] = params
        return self._post(self.path, body)

    def list(self, state=None, job_type=None, target=None, limit=None,
             marker=None, sort_key=None, sort_dir=None):
        """List jobs, newest pages first as the API orders them."""
        params = {'state': state, 'type': job_type, 'target': target,
                  'marker': marker, 'sort_key': sort_key,
                  'sort_dir': sort_dir}
        return self._list(self.path, 'jobs', params, limit=limit)

    def get(self, job_id):
        """Return one job."""
        return self._get(self._item(job_id))

    def cancel(self, job_id):
        """Ask for a job to be cancelled; returns the job."""
        return self._post(self._item(job_id, 'cancel'))

    def wait(self, job_id, timeout=None, interval=2.0, on_change=None,
             clock=time.monotonic, sleep=time.sleep):
        """Poll a job until it reaches a terminal state and return it.

        on_change(job) is called whenever the state or progress changes.
        """
        deadline = None if timeout is None else clock() + timeout
        last = None
        while True:
            job = self.get(job_id)
            seen = (job.get('state'), repr(job.get('progress')))
            if seen != last and on_change is not None:
                on_change(job)
            last = seen
            if job.get('state') in TERMINAL_STATES:
                return job
            if deadline is not None and clock() >= deadline:
                raise exceptions.WaitTimeout(
                    'Timed out after %s seconds waiting for job %s '
                    '(state: %s)' % (timeout, job_id, job.get('state')))
            delay = interval
            if deadline is not None:
                delay = max(0.0, min(interval, deadline - clock()))
            sleep(delay)
