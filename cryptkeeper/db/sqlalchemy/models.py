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

"""SQLAlchemy models of cryptkeeper's own schema."""

from oslo_db.sqlalchemy import models
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

# MariaDB's DATETIME drops fractions unless told otherwise; the audit hash
# covers the timestamp, so it must come back exactly as it was written.
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')
# SQLite only auto-assigns INTEGER keys; BIGINT elsewhere for long chains.
BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


class Base(models.ModelBase, orm.DeclarativeBase):
    """Base of every model: dict access to columns."""

    def as_dict(self):
        return {c.name: getattr(self, c.name) for c in self.__table__.columns}


class Job(models.TimestampMixin, Base):
    """A unit of work (census, purge, ...) run by one worker at a time."""

    __tablename__ = 'jobs'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_jobs0uuid'),
        sa.Index('jobs_state_lease_idx', 'state', 'lease_expires_at'),
        sa.Index('jobs_target_type_state_idx', 'target', 'type', 'state'),
        sa.Index('jobs_created_at_idx', 'created_at'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    type = sa.Column(sa.String(32), nullable=False)
    target = sa.Column(sa.String(255), nullable=False)
    state = sa.Column(sa.String(16), nullable=False)
    params = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    progress = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    result = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    created_by = sa.Column(sa.String(255))
    project_id = sa.Column(sa.String(255))
    request_id = sa.Column(sa.String(255))
    cancel_requested = sa.Column(sa.Boolean, nullable=False, default=False)
    worker = sa.Column(sa.String(255))
    lease_expires_at = sa.Column(sa.DateTime)
    # Bumped on every claim: a worker whose lease was taken over finds its
    # version gone and stops writing (fencing).
    lease_version = sa.Column(sa.Integer, nullable=False, default=0)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    started_at = sa.Column(sa.DateTime)
    finished_at = sa.Column(sa.DateTime)


class AuditRecord(Base):
    """One append-only, hash-chained audit record."""

    __tablename__ = 'audit_records'
    __table_args__ = (
        sa.Index('audit_action_idx', 'action'),
        sa.Index('audit_resource_idx', 'resource_type', 'resource_id'),
        sa.Index('audit_user_idx', 'user_id'),
        sa.Index('audit_outcome_idx', 'outcome'),
        sa.Index('audit_created_at_idx', 'created_at'),
    )

    # Assigned by the appender (head + 1), never by the database, so a
    # removed record leaves a gap that verification sees.
    id = sa.Column(BigId, primary_key=True, autoincrement=False)
    created_at = sa.Column(PreciseDateTime, nullable=False)
    request_id = sa.Column(sa.String(255))
    user_id = sa.Column(sa.String(255))
    project_id = sa.Column(sa.String(255))
    action = sa.Column(sa.String(64), nullable=False)
    resource_type = sa.Column(sa.String(64))
    resource_id = sa.Column(sa.String(255))
    outcome = sa.Column(sa.String(16), nullable=False)
    reason = sa.Column(sa.Text)
    details = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    prev_hash = sa.Column(sa.String(64), nullable=False)
    hash = sa.Column(sa.String(64), nullable=False)


class AuditHead(models.TimestampMixin, Base):
    """The single row that serializes appends and remembers the chain tip.

    Keeping the tip here as well as in the last record means removing the
    newest record is detected, not only edits in the middle.
    """

    __tablename__ = 'audit_head'

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    last_id = sa.Column(BigId, nullable=False, default=0)
    last_hash = sa.Column(sa.String(64), nullable=False)
    appends = sa.Column(BigId, nullable=False, default=0)


class TargetState(models.TimestampMixin, Base):
    """What the workers last saw of a configured target."""

    __tablename__ = 'target_states'

    name = sa.Column(sa.String(255), primary_key=True)
    reachable = sa.Column(sa.Boolean, nullable=False)
    checked_at = sa.Column(sa.DateTime, nullable=False)
    error = sa.Column(sa.Text)


class PurgeBatch(models.TimestampMixin, Base):
    """One batch of a purge job, journalled before any row of it moves.

    A batch is ``prepared`` before it is copied or deleted and ``done``
    once the source delete committed, so a job taken over after a crash
    knows exactly which rows it has moved (see purge/journal.py).
    """

    __tablename__ = 'purge_batches'
    __table_args__ = (
        sa.UniqueConstraint('job_uuid', 'scope', 'seq',
                            name='uniq_purge_batches0job_uuid0scope0seq'),
        sa.Index('purge_batches_job_state_idx', 'job_uuid', 'state'),
    )

    id = sa.Column(BigId, primary_key=True, autoincrement=True)
    job_uuid = sa.Column(sa.String(36), nullable=False)
    # The target the rows came from: a job fanned out over the cells of
    # a nova API database keeps one journal per cell.
    scope = sa.Column(sa.String(255), nullable=False)
    seq = sa.Column(sa.Integer, nullable=False)
    state = sa.Column(sa.String(16), nullable=False)
    root = sa.Column(sa.String(255), nullable=False)
    marker = sa.Column(db_types.JsonEncodedList())
    # The primary keys of every row of the batch: up to batch_size roots
    # and all their dependents, beyond TEXT's 64 KiB on MySQL.
    keys = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    counts = sa.Column(db_types.JsonEncodedDict())
    checksums = sa.Column(db_types.JsonEncodedDict())
    location = sa.Column(db_types.JsonEncodedDict())
    followup = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))


class Schedule(models.TimestampMixin, Base):
    """A recurring job: a cron expression and the job it creates."""

    __tablename__ = 'schedules'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_schedules0uuid'),
        sa.UniqueConstraint('name', name='uniq_schedules0name'),
        # What every worker's scheduler asks on each poll.
        sa.Index('schedules_enabled_next_run_idx', 'enabled', 'next_run_at'),
        sa.Index('schedules_created_at_idx', 'created_at'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    name = sa.Column(sa.String(255), nullable=False)
    cron = sa.Column(sa.String(255), nullable=False)
    enabled = sa.Column(sa.Boolean, nullable=False, default=True)
    job_type = sa.Column(sa.String(32), nullable=False)
    target = sa.Column(sa.String(255), nullable=False)
    params = sa.Column(db_types.JsonEncodedDict(mysql_as_medium=True))
    # Compared and set by the worker that fires the schedule, so exactly
    # one of several workers creates the job of each due time.
    next_run_at = sa.Column(sa.DateTime)
    last_run_at = sa.Column(sa.DateTime)
    last_job_id = sa.Column(sa.String(36))
    created_by = sa.Column(sa.String(255))
    project_id = sa.Column(sa.String(255))


class Agent(models.TimestampMixin, Base):
    """A compute-host agent, known from its heartbeats."""

    __tablename__ = 'agents'
    __table_args__ = (
        sa.UniqueConstraint('host', name='uniq_agents0host'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    host = sa.Column(sa.String(255), nullable=False)
    version = sa.Column(sa.String(64))
    tasks = sa.Column(db_types.JsonEncodedList())
    # What the agent says of itself: instances_path, interval, shared
    # storage; a change is audited, a plain heartbeat is not.
    info = sa.Column(db_types.JsonEncodedDict())
    first_seen_at = sa.Column(sa.DateTime, nullable=False)
    last_seen_at = sa.Column(sa.DateTime, nullable=False)
    last_sweep = sa.Column(db_types.JsonEncodedDict())
    last_sweep_at = sa.Column(sa.DateTime)


class ConsolePolicy(models.TimestampMixin, Base):
    """A size limit for the console logs of one scope."""

    __tablename__ = 'console_policies'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_console_policies0uuid'),
        sa.UniqueConstraint('name', name='uniq_console_policies0name'),
        # One policy per scope: two would make the choice ambiguous.
        sa.UniqueConstraint('scope_kind', 'scope_value',
                            name='uniq_console_policies0scope'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    name = sa.Column(sa.String(255), nullable=False)
    scope_kind = sa.Column(sa.String(16), nullable=False)
    # '' for the global scope: NULLs never collide in a unique constraint.
    scope_value = sa.Column(sa.String(255), nullable=False, default='')
    max_bytes = sa.Column(sa.BigInteger, nullable=False)
    keep_bytes = sa.Column(sa.BigInteger, nullable=False)
    backups = sa.Column(sa.Integer, nullable=False, default=0)
    max_age_days = sa.Column(sa.Integer)
    mode = sa.Column(sa.String(16), nullable=False)
    enabled = sa.Column(sa.Boolean, nullable=False, default=True)
    created_by = sa.Column(sa.String(255))
    project_id = sa.Column(sa.String(255))


class ConsoleLog(models.TimestampMixin, Base):
    """What the agents last saw of one instance's console log."""

    __tablename__ = 'console_logs'
    __table_args__ = (
        sa.UniqueConstraint('instance', name='uniq_console_logs0instance'),
        sa.Index('console_logs_host_idx', 'host'),
        sa.Index('console_logs_reported_by_idx', 'reported_by',
                 'measured_at'),
        sa.Index('console_logs_allocated_idx', 'allocated_bytes'),
        sa.Index('console_logs_apparent_idx', 'apparent_bytes'),
        sa.Index('console_logs_runaway_idx', 'runaway'),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    instance = sa.Column(sa.String(36), nullable=False)
    # Where the instance runs when known; on shared storage only the
    # agent that sees the writer locally can say.
    host = sa.Column(sa.String(255))
    project = sa.Column(sa.String(255))
    reported_by = sa.Column(sa.String(255), nullable=False)
    path = sa.Column(sa.String(1024))
    present = sa.Column(sa.Boolean, nullable=False, default=False)
    apparent_bytes = sa.Column(sa.BigInteger, nullable=False, default=0)
    allocated_bytes = sa.Column(sa.BigInteger, nullable=False, default=0)
    rotated_bytes = sa.Column(sa.BigInteger, nullable=False, default=0)
    growth_bytes_per_hour = sa.Column(sa.BigInteger)
    runaway = sa.Column(sa.Boolean, nullable=False, default=False)
    runaway_since = sa.Column(sa.DateTime)
    holders = sa.Column(db_types.JsonEncodedDict())
    problems = sa.Column(db_types.JsonEncodedList())
    measured_at = sa.Column(sa.DateTime, nullable=False)
    last_action = sa.Column(db_types.JsonEncodedDict())
    last_action_at = sa.Column(sa.DateTime)
