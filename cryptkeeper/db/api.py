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

JOB_TYPES = ('census', 'purge')
# partial: the job finished but left some of its work undone (rows kept
# back by a conflict, a cell it could not reach); the result says why.
JOB_STATES = ('pending', 'running', 'succeeded', 'partial', 'failed',
              'cancelled')
TERMINAL_STATES = ('succeeded', 'partial', 'failed', 'cancelled')
JOB_SORT_KEYS = ('created_at', 'updated_at', 'state', 'type', 'target')
AUDIT_SORT_KEYS = ('id', 'created_at')
SCHEDULE_SORT_KEYS = ('created_at', 'updated_at', 'name')
# Job types a schedule may create.
SCHEDULE_JOB_TYPES = ('purge',)
AGENT_SORT_KEYS = ('host', 'last_seen_at', 'first_seen_at')
CONSOLE_POLICY_SORT_KEYS = ('name', 'created_at', 'updated_at', 'scope_kind')
# Sizes and growth first: "which logs are biggest, which grow fastest".
CONSOLE_LOG_SORT_KEYS = ('allocated_bytes', 'apparent_bytes',
                         'growth_bytes_per_hour', 'measured_at', 'instance',
                         'host')


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

    # Purge journal
    @abc.abstractmethod
    def journal_prepare(self, job_id, worker, lease_version, batch):
        """Record a purge batch as prepared, fenced like renew_lease.

        :param batch: a ``purge.journal.Batch`` as a dict, plus a
            ``scope`` (the target its rows come from; one job fanned out
            over cells has one journal per cell). A prepared batch of the
            same scope and ``seq`` is replaced (a redo after a crash).
        :raises: LeaseLost if the job is no longer leased to ``worker``;
            JournalConflict if that ``seq`` is already done.
        """

    @abc.abstractmethod
    def journal_done(self, job_id, worker, lease_version, seq, batch,
                     progress=None):
        """Record batch ``seq`` as done (its source delete committed).

        :param progress: the job's progress, stored in the same
            transaction so counts and journal never disagree.
        :raises: LeaseLost if the job is no longer leased to ``worker``.
        """

    @abc.abstractmethod
    def journal_batches(self, job_uuid, state=None, after_seq=0,
                        limit=None, scope=None):
        """Return a job's batches as dicts in (scope, ``seq``) order.

        :param state: only batches in this state (None: all).
        :param after_seq: only batches with a larger ``seq`` (paging;
            with a ``scope``).
        :param scope: only the batches of this target (None: all).
        """

    @abc.abstractmethod
    def journal_mark_restored(self, job_uuid, seq, job_id, worker,
                              lease_version, scope=None):
        """Mark done batch ``seq`` of job ``job_uuid`` restored.

        Fenced by the restoring job (``job_id``, ``worker``,
        ``lease_version``), which is not the job that owns the batch.

        :returns: True if the batch was done and is now restored.
        :raises: LeaseLost if the restoring job lost its lease.
        """

    # Schedules
    @abc.abstractmethod
    def create_schedule(self, values, audit):
        """Create a schedule and return it.

        :raises: ScheduleNameExists
        """

    @abc.abstractmethod
    def get_schedule(self, schedule_uuid):
        """Return a schedule by uuid; raise ScheduleNotFound."""

    @abc.abstractmethod
    def list_schedules(self, filters=None, limit=None, marker=None,
                       sort_key='created_at', sort_dir='asc'):
        """Return a page of schedules; ``marker`` is the uuid of the last.

        :param filters: mapping of name, target, enabled to a value.
        """

    @abc.abstractmethod
    def update_schedule(self, schedule_uuid, values, audit):
        """Change the given columns of a schedule and return it.

        :raises: ScheduleNotFound, ScheduleNameExists
        """

    @abc.abstractmethod
    def delete_schedule(self, schedule_uuid, audit):
        """Delete a schedule; the jobs it created stay.

        :raises: ScheduleNotFound
        """

    @abc.abstractmethod
    def due_schedules(self, now, limit=100):
        """Return enabled schedules whose next_run_at is at or before now."""

    @abc.abstractmethod
    def fire_schedule(self, schedule_id, expected_next_run_at, next_run_at,
                      now, job_values, audit, job_audit=None):
        """Fire one due time of a schedule, if no other worker has.

        In one transaction: move ``next_run_at`` from
        ``expected_next_run_at`` to ``next_run_at`` (compare-and-set, so
        of several workers exactly one wins), create the job from
        ``job_values`` with ``job_audit`` as its ``job.create`` record
        (``job_values`` None: the fire was refused, nothing is created),
        and append ``audit``, the ``schedule.fire`` record.

        :returns: (won, job): ``won`` False when another worker fired
            that due time first or the schedule changed meanwhile; ``job``
            the created job or None.
        """

    # Agents and console logs
    @abc.abstractmethod
    def agent_heartbeat(self, host, values, audit):
        """Record that the agent on ``host`` is alive; return (agent, new).

        ``values``: version, tasks, info. ``audit`` is appended only when
        the agent is new or its version, tasks or info changed: plain
        heartbeats would flood the chain.
        """

    @abc.abstractmethod
    def finish_agent_sweep(self, host, sweep, started_at, audit):
        """Store the summary of a finished sweep and forget vanished logs.

        Console logs last reported by ``host`` and measured before
        ``started_at`` (the agent's clock, as are their measured_at) were
        not seen by the sweep: their instance directory is gone. They are
        deleted and ``audit`` is appended with their instances; nothing is
        appended when none went. ``started_at`` None forgets nothing (an
        incomplete sweep). Returns (agent, instances forgotten).

        :raises: AgentNotFound
        """

    @abc.abstractmethod
    def get_agent(self, host):
        """Return the agent of ``host``; raise AgentNotFound."""

    @abc.abstractmethod
    def list_agents(self, limit=None, marker=None, sort_key='host',
                    sort_dir='asc'):
        """Return a page of agents; ``marker`` is the host of the last."""

    @abc.abstractmethod
    def create_console_policy(self, values, audit):
        """Create a console-log policy and return it.

        :raises: ConsolePolicyNameExists, ConsolePolicyScopeExists
        """

    @abc.abstractmethod
    def get_console_policy(self, ident):
        """Return a policy by uuid or by name; raise ConsolePolicyNotFound."""

    @abc.abstractmethod
    def list_console_policies(self, filters=None, limit=None, marker=None,
                              sort_key='name', sort_dir='asc'):
        """Return a page of policies; ``marker`` is the uuid of the last.

        ``limit`` None returns every policy (the agents' and the API's own
        selection of the applicable one need them all).

        :param filters: mapping of scope_kind, scope_value, mode, enabled.
        """

    @abc.abstractmethod
    def update_console_policy(self, ident, values, audit):
        """Change the given columns of a policy and return it.

        :raises: ConsolePolicyNotFound, ConsolePolicyNameExists,
            ConsolePolicyScopeExists
        """

    @abc.abstractmethod
    def delete_console_policy(self, ident, audit):
        """Delete a policy. :raises: ConsolePolicyNotFound"""

    @abc.abstractmethod
    def save_console_logs(self, entries, audits_for):
        """Insert or update console logs from one agent report, atomically.

        :param entries: list of value mappings, each with ``instance``.
        :param audits_for: ``audits_for(old, values) -> [audit]``, called
            inside the transaction with the stored row (None if new)
            before it changes, in the order of ``entries``; it may adjust
            ``values`` (remove what is not a column, add derived columns)
            before they are stored. The records it returns are appended
            in the same transaction.
        :returns: the number of audit records appended.
        """

    @abc.abstractmethod
    def get_console_log(self, instance):
        """Return the console log of an instance; raise ConsoleLogNotFound."""

    @abc.abstractmethod
    def list_console_logs(self, filters=None, limit=None, marker=None,
                          sort_key='allocated_bytes', sort_dir='desc'):
        """Return a page of console logs; ``marker`` is an instance uuid.

        An unknown growth sorts as lower than any measured growth.

        :param filters: host, project, reported_by (exact) and runaway
            (bool).
        """
