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

"""SQLAlchemy storage backend."""

import datetime
import threading

from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa
from sqlalchemy import event

from cryptkeeper.audit import chain
from cryptkeeper.common import exception
from cryptkeeper.db import api
from cryptkeeper.db.sqlalchemy import models

LOG = log.getLogger(__name__)

_CONTEXT = threading.local()
main_context = enginefacade.transaction_context()
_prepared_engines = set()
_prepare_lock = threading.Lock()

HEAD_ID = 1


def get_backend():
    """The backend is this module's Connection."""
    return Connection()


def prepare_engine(engine):
    """Make an engine safe for cryptkeeper's concurrency.

    SQLite's default deferred transactions take the write lock only at
    the first write, and in WAL mode a reader that then writes fails at
    once if another writer committed meanwhile. Starting every
    transaction with BEGIN IMMEDIATE makes SQLite queue writers on its
    busy timeout instead, which the single-host quickstart relies on.
    """
    if engine.dialect.name != 'sqlite':
        return engine

    @event.listens_for(engine, 'connect')
    def _connect(dbapi_conn, record):
        cursor = dbapi_conn.cursor()
        cursor.execute('PRAGMA busy_timeout = 30000')
        if engine.url.database not in (None, '', ':memory:'):
            cursor.execute('PRAGMA journal_mode = WAL')
        cursor.close()

    # oslo.db emits a plain BEGIN on SQLite unless a transaction is
    # already marked as begun; this runs first and takes its place.
    def _begin(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True

    # SQLAlchemy ignores insert=True for an engine's own listeners, so
    # put ours ahead of oslo.db's by re-adding theirs after it.
    others = list(engine.dispatch.begin)
    for listener in others:
        event.remove(engine, 'begin', listener)
    event.listen(engine, 'begin', _begin)
    for listener in others:
        event.listen(engine, 'begin', listener)

    # Connections made before the listeners existed lack the pragmas;
    # an in-memory database would vanish with its connection, so keep it.
    if engine.url.database not in (None, '', ':memory:'):
        engine.dispose()
    return engine


def _ensure_prepared():
    engine = main_context.writer.get_engine()
    if id(engine) in _prepared_engines:
        return
    with _prepare_lock:
        if id(engine) not in _prepared_engines:
            prepare_engine(engine)
            _prepared_engines.add(id(engine))


def get_engine():
    """Return the prepared engine of cryptkeeper's own database."""
    _ensure_prepared()
    return main_context.writer.get_engine()


def _session_for_read():
    _ensure_prepared()
    return main_context.reader.using(_CONTEXT)


def _session_for_write():
    _ensure_prepared()
    return main_context.writer.using(_CONTEXT)


def _keyset(query, model, sort_key, sort_dir, marker):
    """Order by (sort_key, id) and continue after ``marker``.

    The redundant ``>=`` on the sort column lets the database seek
    through its index, so a page deep in a collection costs what the
    first one does.
    """
    col = getattr(model, sort_key)
    ident = model.id
    if sort_dir == 'desc':
        order = [col.desc(), ident.desc()]
    else:
        order = [col.asc(), ident.asc()]
    if marker is not None:
        mval = getattr(marker, sort_key)
        if sort_key == 'id':
            query = query.filter(ident < mval if sort_dir == 'desc'
                                 else ident > mval)
        elif sort_dir == 'desc':
            query = query.filter(col <= mval).filter(
                sa.or_(col < mval, ident < marker.id))
        else:
            query = query.filter(col >= mval).filter(
                sa.or_(col > mval, ident > marker.id))
    return query.order_by(*order)


def _append_audit(session, audit):
    """Append a record inside the caller's transaction.

    The UPDATE comes first because it takes the head's row lock (the
    write lock on SQLite) before the head is read, so concurrent
    appenders from any process line up instead of forking the chain.
    """
    locked = session.query(models.AuditHead).filter_by(id=HEAD_ID).update(
        {'appends': models.AuditHead.appends + 1},
        synchronize_session=False)
    if not locked:
        raise RuntimeError('The audit chain head is missing; run '
                           '"cryptkeeper-manage db sync".')
    head = (session.query(models.AuditHead).filter_by(id=HEAD_ID)
            .with_for_update().populate_existing().one())
    record = {
        'id': head.last_id + 1,
        'created_at': timeutils.utcnow(),
        'request_id': audit.get('request_id'),
        'user_id': audit.get('user_id'),
        'project_id': audit.get('project_id'),
        'action': audit['action'],
        'resource_type': audit.get('resource_type'),
        'resource_id': audit.get('resource_id'),
        'outcome': audit['outcome'],
        'reason': audit.get('reason'),
        'details': audit.get('details') or {},
    }
    record['prev_hash'] = head.last_hash
    record['hash'] = chain.compute_hash(record, head.last_hash)
    row = models.AuditRecord(**record)
    session.add(row)
    head.last_id = record['id']
    head.last_hash = record['hash']
    session.flush()
    return row


def ensure_audit_head(session):
    """Insert the chain head if a fresh schema lacks it."""
    if session.get(models.AuditHead, HEAD_ID) is None:
        session.add(models.AuditHead(id=HEAD_ID, last_id=0,
                                     last_hash=chain.GENESIS, appends=0))
        session.flush()


class Connection(api.Connection):
    """SQLAlchemy connection."""

    # Jobs

    @oslo_db_api.retry_on_deadlock
    def create_job(self, values, audit):
        values = dict(values)
        values.setdefault('uuid', uuidutils.generate_uuid())
        values.setdefault('state', 'pending')
        values.setdefault('progress', {})
        with _session_for_write() as session:
            job = models.Job(**values)
            session.add(job)
            session.flush()
            _append_audit(session, dict(audit, resource_type='job',
                                        resource_id=job.uuid))
        return job

    def get_job(self, job_uuid):
        with _session_for_read() as session:
            job = session.query(models.Job).filter_by(uuid=job_uuid).first()
        if job is None:
            raise exception.JobNotFound(job=job_uuid)
        return job

    def list_jobs(self, filters=None, limit=None, marker=None,
                  sort_key='created_at', sort_dir='asc'):
        with _session_for_read() as session:
            query = session.query(models.Job)
            for key in ('state', 'type', 'target'):
                value = (filters or {}).get(key)
                if value is not None:
                    query = query.filter(getattr(models.Job, key) == value)
            marker_obj = None
            if marker is not None:
                marker_obj = (session.query(models.Job)
                              .filter_by(uuid=marker).first())
                if marker_obj is None:
                    raise exception.JobNotFound(job=marker)
            query = _keyset(query, models.Job, sort_key, sort_dir,
                            marker_obj)
            return query.limit(limit).all()

    @oslo_db_api.retry_on_deadlock
    def request_cancel(self, job_uuid, audit):
        with _session_for_write() as session:
            job = (session.query(models.Job).filter_by(uuid=job_uuid)
                   .with_for_update().first())
            if job is None:
                raise exception.JobNotFound(job=job_uuid)
            if job.state in api.TERMINAL_STATES:
                raise exception.JobFinished(job=job_uuid, state=job.state)
            details = {'previous_state': job.state}
            job.cancel_requested = True
            if job.state == 'pending':
                # Nobody runs it yet, so it can end right here.
                job.state = 'cancelled'
                job.finished_at = timeutils.utcnow()
            details['state'] = job.state
            session.flush()
            _append_audit(session, dict(
                audit, resource_type='job', resource_id=job.uuid,
                details=dict(audit.get('details') or {}, **details)))
        return job

    @oslo_db_api.retry_on_deadlock
    def claim_job(self, worker, lease_seconds, types=None):
        now = timeutils.utcnow()
        with _session_for_write() as session:
            query = session.query(models.Job).filter(sa.or_(
                models.Job.state == 'pending',
                sa.and_(models.Job.state == 'running',
                        models.Job.lease_expires_at < now)))
            if types:
                query = query.filter(models.Job.type.in_(types))
            query = query.order_by(models.Job.id)
            if session.bind.dialect.name in ('mysql', 'postgresql'):
                # Rows another worker is claiming are skipped, not
                # waited for, so workers never queue behind each other.
                candidates = query.with_for_update(skip_locked=True).limit(
                    1).all()
            else:
                candidates = query.limit(10).all()
            for job in candidates:
                previous = {'state': job.state, 'worker': job.worker,
                            'lease_version': job.lease_version}
                # Compare-and-swap on lease_version: correct even where
                # the select above took no lock.
                won = session.query(models.Job).filter(
                    models.Job.id == job.id,
                    models.Job.lease_version == job.lease_version,
                ).update({
                    'state': 'running',
                    'worker': worker,
                    'lease_version': job.lease_version + 1,
                    'lease_expires_at': now + _seconds(lease_seconds),
                    'attempts': job.attempts + 1,
                    'started_at': job.started_at or now,
                    'updated_at': now,
                }, synchronize_session=False)
                if not won:
                    continue
                session.refresh(job)
                takeover = previous['state'] == 'running'
                _append_audit(session, {
                    'action': 'job.takeover' if takeover else 'job.start',
                    'resource_type': 'job', 'resource_id': job.uuid,
                    'user_id': job.created_by,
                    'project_id': job.project_id,
                    'request_id': job.request_id,
                    'outcome': 'success',
                    'reason': ('lease of worker %s expired' %
                               previous['worker']) if takeover else None,
                    'details': {'worker': worker,
                                'previous_worker': previous['worker'],
                                'attempt': job.attempts,
                                'lease_version': job.lease_version},
                })
                return job
        return None

    def renew_lease(self, job_id, worker, lease_version, lease_seconds,
                    progress=None):
        now = timeutils.utcnow()
        values = {'lease_expires_at': now + _seconds(lease_seconds),
                  'updated_at': now}
        if progress is not None:
            values['progress'] = progress
        with _session_for_write() as session:
            fenced = self._fenced(session, job_id, worker, lease_version)
            if not fenced.update(values, synchronize_session=False):
                raise exception.LeaseLost(worker=worker, job=job_id)
            return bool(session.query(models.Job.cancel_requested)
                        .filter_by(id=job_id).scalar())

    @oslo_db_api.retry_on_deadlock
    def finish_job(self, job_id, worker, lease_version, state, result,
                   progress, audit):
        if state not in api.TERMINAL_STATES:
            raise ValueError('not a terminal state: %s' % state)
        now = timeutils.utcnow()
        with _session_for_write() as session:
            fenced = self._fenced(session, job_id, worker, lease_version)
            if not fenced.update({'state': state, 'result': result,
                                  'progress': progress, 'finished_at': now,
                                  'lease_expires_at': None,
                                  'updated_at': now},
                                 synchronize_session=False):
                raise exception.LeaseLost(worker=worker, job=job_id)
            job = session.get(models.Job, job_id)
            session.refresh(job)
            _append_audit(session, dict(audit, resource_type='job',
                                        resource_id=job.uuid))
        return job

    @staticmethod
    def _fenced(session, job_id, worker, lease_version):
        return session.query(models.Job).filter(
            models.Job.id == job_id,
            models.Job.worker == worker,
            models.Job.lease_version == lease_version,
            models.Job.state == 'running')

    def latest_job(self, target, job_type, state='succeeded'):
        with _session_for_read() as session:
            return (session.query(models.Job)
                    .filter_by(target=target, type=job_type, state=state)
                    .order_by(models.Job.finished_at.desc(),
                              models.Job.id.desc())
                    .first())

    # Audit

    @oslo_db_api.retry_on_deadlock
    def append_audit(self, audit):
        with _session_for_write() as session:
            return _append_audit(session, audit)

    def get_audit(self, record_id):
        with _session_for_read() as session:
            record = session.get(models.AuditRecord, record_id)
        if record is None:
            raise exception.AuditRecordNotFound(record=record_id)
        return record

    def list_audit(self, filters=None, limit=None, marker=None,
                   sort_key='id', sort_dir='asc'):
        filters = filters or {}
        with _session_for_read() as session:
            model = models.AuditRecord
            query = session.query(model)
            for key in ('action', 'resource_type', 'resource_id',
                        'user_id', 'outcome', 'request_id'):
                if filters.get(key) is not None:
                    query = query.filter(getattr(model, key) == filters[key])
            if filters.get('since') is not None:
                query = query.filter(model.created_at >= filters['since'])
            if filters.get('until') is not None:
                query = query.filter(model.created_at < filters['until'])
            marker_obj = None
            if marker is not None:
                marker_obj = session.get(model, marker)
                if marker_obj is None:
                    raise exception.AuditRecordNotFound(record=marker)
            query = _keyset(query, model, sort_key, sort_dir, marker_obj)
            return query.limit(limit).all()

    def audit_chain(self, after_id=0, limit=1000):
        with _session_for_read() as session:
            return (session.query(models.AuditRecord)
                    .filter(models.AuditRecord.id > after_id)
                    .order_by(models.AuditRecord.id.asc())
                    .limit(limit).all())

    def audit_head(self):
        with _session_for_read() as session:
            head = session.get(models.AuditHead, HEAD_ID)
            if head is None:
                return 0, chain.GENESIS
            return head.last_id, head.last_hash

    # Targets

    @oslo_db_api.retry_on_deadlock
    def set_target_state(self, name, reachable, error=None):
        now = timeutils.utcnow()
        with _session_for_write() as session:
            state = session.get(models.TargetState, name)
            if state is None:
                state = models.TargetState(name=name)
                session.add(state)
            state.reachable = reachable
            state.checked_at = now
            state.error = error

    def get_target_states(self):
        with _session_for_read() as session:
            return {s.name: s for s in session.query(models.TargetState)}


def _seconds(n):
    return datetime.timedelta(seconds=n)
