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
from oslo_db import exception as db_exc
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
from cryptkeeper.purge import journal as purge_journal

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


# How each resource is named: the column a client names it by, and the
# error (with its keyword) when no row has that name.
_IDENTITY = {
    models.Job: ('uuid', exception.JobNotFound, 'job'),
    models.Schedule: ('uuid', exception.ScheduleNotFound, 'schedule'),
    models.Agent: ('host', exception.AgentNotFound, 'host'),
    models.ConsolePolicy: ('uuid', exception.ConsolePolicyNotFound,
                           'policy'),
    models.ConsoleLog: ('instance', exception.ConsoleLogNotFound,
                        'instance'),
    models.AuditRecord: ('id', exception.AuditRecordNotFound, 'record'),
}


def _by_identity(session, model, ident):
    column = _IDENTITY[model][0]
    return session.query(model).filter_by(**{column: ident})


def _first(query, model, ident):
    """The query's first row, or the model's NotFound naming ``ident``."""
    row = query.first()
    if row is None:
        _column, not_found, name = _IDENTITY[model]
        raise not_found(**{name: ident})
    return row


def _get_for_update(session, model, ident):
    """The row ``ident`` names, locked for the caller's transaction."""
    return _first(_by_identity(session, model, ident).with_for_update(),
                  model, ident)


def _get(model, ident):
    with _session_for_read() as session:
        return _first(_by_identity(session, model, ident), model, ident)


def _add_filters(query, model, filters, keys):
    """Keep the rows equal to each of ``keys`` that ``filters`` gives."""
    for key in keys:
        value = (filters or {}).get(key)
        if value is not None:
            query = query.filter(getattr(model, key) == value)
    return query


def _paginate(session, query, model, limit, marker, sort_key, sort_dir,
              keyset=_keyset):
    """One page of ``query``, continuing after the row ``marker`` names.

    A marker naming no row is the model's NotFound, not an empty page:
    the API tells the client its marker is wrong.
    """
    marker_row = None
    if marker is not None:
        marker_row = _first(_by_identity(session, model, marker), model,
                            marker)
    query = keyset(query, model, sort_key, sort_dir, marker_row)
    return query.limit(limit).all()


def _list(model, filters, keys, limit, marker, sort_key, sort_dir):
    """One page of ``model``'s rows equal to each of ``keys`` filtered."""
    with _session_for_read() as session:
        query = _add_filters(session.query(model), model, filters, keys)
        return _paginate(session, query, model, limit, marker, sort_key,
                         sort_dir)


def _new_job(values):
    """A pending job row from column values, with a fresh uuid."""
    values = dict(values)
    values.setdefault('uuid', uuidutils.generate_uuid())
    values.setdefault('state', 'pending')
    values.setdefault('progress', {})
    return models.Job(**values)


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


# Agents and console logs: module helpers.

# Audit details list at most this many instances; the count is exact.
_MAX_LISTED = 1000


def _is_duplicate(exc):
    """Retry on a unique-key race: two agents inserting one row at once."""
    return isinstance(exc, db_exc.DBDuplicateEntry)


def _describe_scope(kind, value):
    return kind if not value else '%s=%s' % (kind, value)


def _keyset_nullable(query, model, sort_key, sort_dir, marker):
    """Like _keyset, for columns that may be NULL (growth, host).

    NULL sorts as lower than every value (growth -1, host ''), on every
    backend alike, so the marker comparison never meets a NULL.
    """
    col = getattr(model, sort_key)
    low = None
    if sort_key == 'growth_bytes_per_hour':
        low = -1
    elif sort_key in ('host', 'project'):
        low = ''
    if low is None:
        return _keyset(query, model, sort_key, sort_dir, marker)
    expr = sa.func.coalesce(col, low)
    ident = model.id
    if sort_dir == 'desc':
        order = [expr.desc(), ident.desc()]
    else:
        order = [expr.asc(), ident.asc()]
    if marker is not None:
        mval = getattr(marker, sort_key)
        mval = low if mval is None else mval
        if sort_dir == 'desc':
            query = query.filter(sa.or_(
                expr < mval, sa.and_(expr == mval, ident < marker.id)))
        else:
            query = query.filter(sa.or_(
                expr > mval, sa.and_(expr == mval, ident > marker.id)))
    return query.order_by(*order)


class Connection(api.Connection):
    """SQLAlchemy connection."""

    # Jobs

    @oslo_db_api.retry_on_deadlock
    def create_job(self, values, audit):
        with _session_for_write() as session:
            job = _new_job(values)
            session.add(job)
            session.flush()
            _append_audit(session, dict(audit, resource_type='job',
                                        resource_id=job.uuid))
        return job

    def get_job(self, job_uuid):
        return _get(models.Job, job_uuid)

    def list_jobs(self, filters=None, limit=None, marker=None,
                  sort_key='created_at', sort_dir='asc'):
        return _list(models.Job, filters, ('state', 'type', 'target'),
                     limit, marker, sort_key, sort_dir)

    @oslo_db_api.retry_on_deadlock
    def request_cancel(self, job_uuid, audit):
        with _session_for_write() as session:
            job = _get_for_update(session, models.Job, job_uuid)
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
            self._fenced_update(session, job_id, worker, lease_version,
                                values)
            return bool(session.query(models.Job.cancel_requested)
                        .filter_by(id=job_id).scalar())

    @oslo_db_api.retry_on_deadlock
    def finish_job(self, job_id, worker, lease_version, state, result,
                   progress, audit):
        if state not in api.TERMINAL_STATES:
            raise ValueError('not a terminal state: %s' % state)
        now = timeutils.utcnow()
        with _session_for_write() as session:
            self._fenced_update(session, job_id, worker, lease_version, {
                'state': state, 'result': result, 'progress': progress,
                'finished_at': now, 'lease_expires_at': None,
                'updated_at': now})
            job = session.get(models.Job, job_id)
            session.refresh(job)
            _append_audit(session, dict(audit, resource_type='job',
                                        resource_id=job.uuid))
        return job

    @staticmethod
    def _fenced_update(session, job_id, worker, lease_version, values):
        """Update the job only while ``worker`` still holds this lease.

        A worker whose lease was taken over gets LeaseLost, so it stops
        instead of writing over its successor's progress.
        """
        fenced = session.query(models.Job).filter(
            models.Job.id == job_id,
            models.Job.worker == worker,
            models.Job.lease_version == lease_version,
            models.Job.state == 'running')
        if not fenced.update(values, synchronize_session=False):
            raise exception.LeaseLost(worker=worker, job=job_id)

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
        return _get(models.AuditRecord, record_id)

    def list_audit(self, filters=None, limit=None, marker=None,
                   sort_key='id', sort_dir='asc'):
        filters = filters or {}
        with _session_for_read() as session:
            model = models.AuditRecord
            query = _add_filters(session.query(model), model, filters,
                                 ('action', 'resource_type', 'resource_id',
                                  'user_id', 'outcome', 'request_id'))
            if filters.get('since') is not None:
                query = query.filter(model.created_at >= filters['since'])
            if filters.get('until') is not None:
                query = query.filter(model.created_at < filters['until'])
            return _paginate(session, query, model, limit, marker,
                             sort_key, sort_dir)

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

    # Purge journal

    @staticmethod
    def _journal_fence(session, job_id, worker, lease_version,
                       progress=None):
        # The UPDATE takes the job's row lock until commit, so a takeover
        # (claim_job's compare-and-swap on the same row) lands either
        # before this write, which then fails, or after it has committed.
        now = timeutils.utcnow()
        values = {'updated_at': now}
        if progress is not None:
            values['progress'] = progress
        Connection._fenced_update(session, job_id, worker, lease_version,
                                  values)
        return session.query(models.Job.uuid).filter_by(id=job_id).scalar()

    @staticmethod
    def _batch_row(session, job_uuid, batch, seq):
        scope = batch.get('scope') or ''
        row = (session.query(models.PurgeBatch)
               .filter_by(job_uuid=job_uuid, scope=scope, seq=seq).first())
        if row is None:
            row = models.PurgeBatch(job_uuid=job_uuid, scope=scope, seq=seq)
            session.add(row)
        return row

    @staticmethod
    def _set_batch(row, batch, state):
        row.state = state
        row.root = batch['root']
        row.marker = list(batch.get('marker') or [])
        for field in ('keys', 'counts', 'checksums', 'location',
                      'followup'):
            setattr(row, field, dict(batch.get(field) or {}))

    @oslo_db_api.retry_on_deadlock
    def journal_prepare(self, job_id, worker, lease_version, batch):
        with _session_for_write() as session:
            job_uuid = self._journal_fence(session, job_id, worker,
                                           lease_version)
            row = self._batch_row(session, job_uuid, batch, batch['seq'])
            if row.state not in (None, purge_journal.PREPARED):
                raise exception.JournalConflict(seq=batch['seq'],
                                                job=job_uuid,
                                                state=row.state)
            self._set_batch(row, batch, purge_journal.PREPARED)

    @oslo_db_api.retry_on_deadlock
    def journal_done(self, job_id, worker, lease_version, seq, batch,
                     progress=None):
        with _session_for_write() as session:
            job_uuid = self._journal_fence(session, job_id, worker,
                                           lease_version, progress)
            row = self._batch_row(session, job_uuid, batch, seq)
            self._set_batch(row, batch, purge_journal.DONE)

    def journal_batches(self, job_uuid, state=None, after_seq=0,
                        limit=None, scope=None):
        model = models.PurgeBatch
        with _session_for_read() as session:
            query = session.query(model).filter(model.job_uuid == job_uuid,
                                                model.seq > after_seq)
            if state is not None:
                query = query.filter(model.state == state)
            if scope is not None:
                query = query.filter(model.scope == scope)
            rows = (query.order_by(model.scope, model.seq)
                    .limit(limit).all())
            return [_batch_dict(row) for row in rows]

    @oslo_db_api.retry_on_deadlock
    def journal_mark_restored(self, job_uuid, seq, job_id, worker,
                              lease_version, scope=None):
        with _session_for_write() as session:
            self._journal_fence(session, job_id, worker, lease_version)
            return bool(
                session.query(models.PurgeBatch)
                .filter_by(job_uuid=job_uuid, scope=scope or '', seq=seq,
                           state=purge_journal.DONE)
                .update({'state': purge_journal.RESTORED,
                         'updated_at': timeutils.utcnow()},
                        synchronize_session=False))

    # Schedules

    @oslo_db_api.retry_on_deadlock
    def create_schedule(self, values, audit):
        values = dict(values)
        values.setdefault('uuid', uuidutils.generate_uuid())
        try:
            with _session_for_write() as session:
                schedule = models.Schedule(**values)
                session.add(schedule)
                session.flush()
                _append_audit(session, dict(audit, resource_type='schedule',
                                            resource_id=schedule.uuid))
        except db_exc.DBDuplicateEntry:
            raise exception.ScheduleNameExists(name=values.get('name')) \
                from None
        return schedule

    def get_schedule(self, schedule_uuid):
        return _get(models.Schedule, schedule_uuid)

    def list_schedules(self, filters=None, limit=None, marker=None,
                       sort_key='created_at', sort_dir='asc'):
        return _list(models.Schedule, filters, ('name', 'target', 'enabled'),
                     limit, marker, sort_key, sort_dir)

    @oslo_db_api.retry_on_deadlock
    def update_schedule(self, schedule_uuid, values, audit):
        try:
            with _session_for_write() as session:
                schedule = _get_for_update(session, models.Schedule,
                                           schedule_uuid)
                for key, value in values.items():
                    setattr(schedule, key, value)
                session.flush()
                _append_audit(session, dict(audit, resource_type='schedule',
                                            resource_id=schedule.uuid))
        except db_exc.DBDuplicateEntry:
            raise exception.ScheduleNameExists(name=values.get('name')) \
                from None
        return schedule

    @oslo_db_api.retry_on_deadlock
    def delete_schedule(self, schedule_uuid, audit):
        with _session_for_write() as session:
            schedule = _get_for_update(session, models.Schedule,
                                       schedule_uuid)
            # The record keeps what was deleted: the row itself is gone.
            gone = {k: schedule[k] for k in ('name', 'cron', 'enabled',
                                             'job_type', 'target',
                                             'params')}
            session.delete(schedule)
            session.flush()
            _append_audit(session, dict(
                audit, resource_type='schedule', resource_id=schedule_uuid,
                details=dict(audit.get('details') or {}, schedule=gone)))

    def due_schedules(self, now, limit=100):
        model = models.Schedule
        with _session_for_read() as session:
            return (session.query(model)
                    .filter(model.enabled == sa.true(),
                            model.next_run_at.isnot(None),
                            model.next_run_at <= now)
                    .order_by(model.next_run_at, model.id)
                    .limit(limit).all())

    @oslo_db_api.retry_on_deadlock
    def fire_schedule(self, schedule_id, expected_next_run_at, next_run_at,
                      now, job_values, audit, job_audit=None):
        model = models.Schedule
        with _session_for_write() as session:
            # The compare-and-set that elects the one worker: the row lock
            # it takes makes a second worker's UPDATE wait and then match
            # nothing, on every backend and isolation level.
            won = session.query(model).filter(
                model.id == schedule_id,
                model.enabled == sa.true(),
                model.next_run_at == expected_next_run_at,
            ).update({'next_run_at': next_run_at, 'last_run_at': now},
                     synchronize_session=False)
            if not won:
                return False, None
            job = None
            if job_values is not None:
                job = _new_job(job_values)
                session.add(job)
                session.flush()
                session.query(model).filter_by(id=schedule_id).update(
                    {'last_job_id': job.uuid}, synchronize_session=False)
                _append_audit(session, dict(
                    job_audit or dict(audit, action='job.create'),
                    resource_type='job', resource_id=job.uuid))
            details = dict(audit.get('details') or {},
                           job_id=job.uuid if job is not None else None)
            _append_audit(session, dict(audit, resource_type='schedule',
                                        details=details))
        return True, job

    # Agents and console logs

    @oslo_db_api.wrap_db_retry(max_retries=3, retry_on_deadlock=True,
                               exception_checker=_is_duplicate)
    def agent_heartbeat(self, host, values, audit):
        now = timeutils.utcnow()
        with _session_for_write() as session:
            agent = (session.query(models.Agent).filter_by(host=host)
                     .with_for_update().first())
            new = agent is None
            changes = {}
            if new:
                agent = models.Agent(host=host, first_seen_at=now)
                session.add(agent)
            else:
                changes = {k: {'from': agent[k], 'to': v}
                           for k, v in values.items() if agent[k] != v}
            for key, value in values.items():
                setattr(agent, key, value)
            agent.last_seen_at = now
            session.flush()
            if new or changes:
                details = dict(audit.get('details') or {}, new=new)
                if changes:
                    details['changes'] = changes
                else:
                    details.update(values)
                _append_audit(session, dict(
                    audit, resource_type='agent', resource_id=host,
                    details=details))
        return agent, new

    @oslo_db_api.retry_on_deadlock
    def finish_agent_sweep(self, host, sweep, started_at, audit):
        now = timeutils.utcnow()
        model = models.ConsoleLog
        with _session_for_write() as session:
            agent = _get_for_update(session, models.Agent, host)
            agent.last_sweep = sweep
            agent.last_sweep_at = now
            agent.last_seen_at = now
            gone = []
            if started_at is not None:
                stale = session.query(model).filter(
                    model.reported_by == host,
                    model.measured_at < started_at)
                gone = sorted(r.instance for r in stale)
                if gone:
                    stale.delete(synchronize_session=False)
            session.flush()
            if gone:
                _append_audit(session, dict(
                    audit, resource_type='agent', resource_id=host,
                    details=dict(audit.get('details') or {},
                                 count=len(gone),
                                 instances=gone[:_MAX_LISTED])))
        return agent, gone

    def get_agent(self, host):
        return _get(models.Agent, host)

    def list_agents(self, limit=None, marker=None, sort_key='host',
                    sort_dir='asc'):
        return _list(models.Agent, None, (), limit, marker, sort_key,
                     sort_dir)

    @staticmethod
    def _policy_query(session, ident):
        query = session.query(models.ConsolePolicy)
        if uuidutils.is_uuid_like(ident):
            return query.filter_by(uuid=ident)
        return query.filter_by(name=ident)

    @classmethod
    def _policy_for_update(cls, session, ident):
        return _first(cls._policy_query(session, ident).with_for_update(),
                      models.ConsolePolicy, ident)

    @staticmethod
    def _check_policy_unique(session, values, policy=None):
        """Name the policy already holding this name or scope, if any."""
        model = models.ConsolePolicy
        others = session.query(model)
        if policy is not None:
            others = others.filter(model.id != policy.id)
        kind = values.get('scope_kind', policy.scope_kind if policy else None)
        value = values.get('scope_value',
                           policy.scope_value if policy else '')
        other = others.filter_by(scope_kind=kind, scope_value=value).first()
        if other is not None:
            raise exception.ConsolePolicyScopeExists(
                other=other.name, scope=_describe_scope(kind, value))
        if 'name' in values and others.filter_by(
                name=values['name']).first() is not None:
            raise exception.ConsolePolicyNameExists(name=values['name'])

    @staticmethod
    def _policy_duplicate(exc, values):
        # Lost a race with a concurrent create: same checks, after the fact.
        if 'name' in (exc.columns or ()):
            return exception.ConsolePolicyNameExists(name=values.get('name'))
        return exception.ConsolePolicyScopeExists(
            other='(created concurrently)', scope=_describe_scope(
                values.get('scope_kind'), values.get('scope_value')))

    @oslo_db_api.retry_on_deadlock
    def create_console_policy(self, values, audit):
        values = dict(values)
        values.setdefault('uuid', uuidutils.generate_uuid())
        values.setdefault('scope_value', '')
        try:
            with _session_for_write() as session:
                self._check_policy_unique(session, values)
                policy = models.ConsolePolicy(**values)
                session.add(policy)
                session.flush()
                _append_audit(session, dict(
                    audit, resource_type='console_policy',
                    resource_id=policy.uuid))
        except db_exc.DBDuplicateEntry as exc:
            raise self._policy_duplicate(exc, values) from None
        return policy

    def get_console_policy(self, ident):
        with _session_for_read() as session:
            return _first(self._policy_query(session, ident),
                          models.ConsolePolicy, ident)

    def list_console_policies(self, filters=None, limit=None, marker=None,
                              sort_key='name', sort_dir='asc'):
        return _list(models.ConsolePolicy, filters,
                     ('scope_kind', 'scope_value', 'mode', 'enabled'),
                     limit, marker, sort_key, sort_dir)

    @oslo_db_api.retry_on_deadlock
    def update_console_policy(self, ident, values, audit):
        try:
            with _session_for_write() as session:
                policy = self._policy_for_update(session, ident)
                self._check_policy_unique(session, values, policy)
                for key, value in values.items():
                    setattr(policy, key, value)
                session.flush()
                _append_audit(session, dict(
                    audit, resource_type='console_policy',
                    resource_id=policy.uuid))
        except db_exc.DBDuplicateEntry as exc:
            raise self._policy_duplicate(exc, values) from None
        return policy

    @oslo_db_api.retry_on_deadlock
    def delete_console_policy(self, ident, audit):
        with _session_for_write() as session:
            policy = self._policy_for_update(session, ident)
            uuid = policy.uuid
            session.delete(policy)
            session.flush()
            _append_audit(session, dict(
                audit, resource_type='console_policy', resource_id=uuid))

    @oslo_db_api.wrap_db_retry(max_retries=3, retry_on_deadlock=True,
                               exception_checker=_is_duplicate)
    def save_console_logs(self, entries, audits_for):
        model = models.ConsoleLog
        audits = []
        with _session_for_write() as session:
            instances = sorted({e['instance'] for e in entries})
            rows = {}
            if instances:
                rows = {r.instance: r for r in session.query(model).filter(
                    model.instance.in_(instances)).with_for_update()}
            for values in entries:
                row = rows.get(values['instance'])
                audits.extend(audits_for(row, values))
                if row is None:
                    row = model(**values)
                    session.add(row)
                    rows[row.instance] = row
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            session.flush()
            for audit in audits:
                _append_audit(session, audit)
        return len(audits)

    def get_console_log(self, instance):
        return _get(models.ConsoleLog, instance)

    def list_console_logs(self, filters=None, limit=None, marker=None,
                          sort_key='allocated_bytes', sort_dir='desc'):
        model = models.ConsoleLog
        filters = filters or {}
        with _session_for_read() as session:
            query = _add_filters(session.query(model), model, filters,
                                 ('host', 'project', 'reported_by'))
            if filters.get('runaway') is not None:
                query = query.filter(model.runaway == bool(
                    filters['runaway']))
            return _paginate(session, query, model, limit, marker,
                             sort_key, sort_dir, keyset=_keyset_nullable)


def _seconds(n):
    return datetime.timedelta(seconds=n)


def _batch_dict(row):
    return {'seq': row.seq, 'scope': row.scope, 'root': row.root,
            'marker': row.marker or [],
            'keys': row.keys or {}, 'counts': row.counts or {},
            'checksums': row.checksums or {},
            'location': row.location or {}, 'followup': row.followup or {},
            'state': row.state}
