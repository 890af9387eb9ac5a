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

"""Interface of cryptkeeper's own database; the backend implements it."""

import abc

from oslo_db import api as db_api

from cryptkeeper import conf

_BACKEND_MAPPING = {'sqlalchemy': 'cryptkeeper.db.sqlalchemy.api'}
IMPL = db_api.DBAPI.from_config(conf.CONF, backend_mapping=_BACKEND_MAPPING,
                                lazy=True)

JOB_TYPES = ('census',)
JOB_STATES = ('pending', 'running', 'succeeded', 'failed', 'cancelled')
TERMINAL_STATES = ('succeeded', 'failed', 'cancelled')
JOB_SORT_KEYS = ('created_at', 'updated_at', 'state', 'type', 'target')
AUDIT_SORT_KEYS = ('id', 'created_at')


def get_instance():
    """Return the database backend in use."""
    return IMPL


class Connection(metaclass=abc.ABCMeta):
    """What the API, workers and commands may ask of the database.

    Methods that change state take an ``audit`` mapping (see
    :func:`cryptkeeper.audit.records.entry`) and append it to the audit
    chain in the same transaction, so a change is never recorded without
    happening, nor the other way round.
    """

    # Jobs
    @abc.abstractmethod
    def create_job(self, values, audit):
        """Create a pending job and return it."""

    @abc.abstractmethod
    def get_job(self, job_uuid):
        """Return a job by uuid; raise JobNotFound."""

    @abc.abstractmethod
    def list_jobs(self, filters=None, limit=None, marker=None,
                  sort_key='created_at', sort_dir='asc'):
        """Return a page of jobs; ``marker`` is the uuid of the last seen.

        :param filters: mapping of state, type, target to a value.
        """

    @abc.abstractmethod
    def request_cancel(self, job_uuid, audit):
        """Cancel a pending job at once or flag a running one.

        :raises: JobNotFound, JobFinished
        """

    @abc.abstractmethod
    def claim_job(self, worker, lease_seconds, types=None):
        """Lease one pending or abandoned job to ``worker``; or None.

        A running job whose lease expired is taken over; its
        ``lease_version`` changes so the old worker is fenced off.
        """

    @abc.abstractmethod
    def renew_lease(self, job_id, worker, lease_version, lease_seconds,
                    progress=None):
        """Extend the lease and optionally store progress.

        :returns: the job's ``cancel_requested`` flag.
        :raises: LeaseLost if the job is no longer leased to this worker.
        """

    @abc.abstractmethod
    def finish_job(self, job_id, worker, lease_version, state, result,
                   progress, audit):
        """Move a leased job to a terminal state.

        :raises: LeaseLost if the job is no longer leased to this worker.
        """

    @abc.abstractmethod
    def latest_job(self, target, job_type, state='succeeded'):
        """Return the most recently finished job of a kind, or None."""

    # Audit
    @abc.abstractmethod
    def append_audit(self, audit):
        """Append one record to the chain in its own transaction."""

    @abc.abstractmethod
    def get_audit(self, record_id):
        """Return one audit record; raise AuditRecordNotFound."""

    @abc.abstractmethod
    def list_audit(self, filters=None, limit=None, marker=None,
                   sort_key='id', sort_dir='asc'):
        """Return a page of audit records in chain order.

        :param filters: action, resource_type, resource_id, user_id,
            outcome (exact) and since/until (datetimes).
        """

    @abc.abstractmethod
    def audit_chain(self, after_id=0, limit=1000):
        """Return up to ``limit`` records with ids above ``after_id``."""

    @abc.abstractmethod
    def audit_head(self):
        """Return (last_id, last_hash) of the chain."""

    # Targets
    @abc.abstractmethod
    def set_target_state(self, name, reachable, error=None):
        """Record what a worker saw when it checked a target."""

    @abc.abstractmethod
    def get_target_states(self):
        """Return {name: TargetState} for every checked target."""
