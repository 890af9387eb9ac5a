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
