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

"""The purge job: plan, archive, purge or restore a target's deleted rows.

Targets, archive URLs and cells all come from the configuration file; the
job's parameters only choose among them. Every mode that writes holds the
tooz lock ``purge-<target>`` for its whole run, so two purge jobs never
write to one target at once: the second waits, and says in its progress
which job it waits for.
"""

import contextlib
import os
import time

from oslo_log import log
from sqlalchemy.engine import url as sa_url

from cryptkeeper.common import coordination
from cryptkeeper.common import exception
from cryptkeeper.common import utils
from cryptkeeper import conf
from cryptkeeper.conf import targets as target_conf
from cryptkeeper.db import api as db_api
from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import executor
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import plan as purge_plan
from cryptkeeper.purge import profiles
from cryptkeeper.purge import restore as purge_restore
from cryptkeeper.purge import retention
from cryptkeeper.purge import schema
from cryptkeeper.worker import journal as db_journal
from cryptkeeper.worker import messages
from cryptkeeper.worker import targets

CONF = conf.CONF
LOG = log.getLogger(__name__)

COUNTERS = ('planned', 'archived', 'deleted', 'restored')
WAITING = 'waiting_for_lock'


class PurgeJobError(exception.CryptkeeperException):
    """A purge job cannot run as configured; the message says why."""

    msg_fmt = '%(reason)s'


def lock_name(target):
    return 'purge-%s' % target


def initial_progress():
    return {'mode': None, 'phase': 'starting', 'tables': {}, 'batches': 0,
            WAITING: None, 'locks': []}


# Secrets


def _urls(job):
    """Every configured URL this job may open, for masking."""
    urls = [CONF.purge.archive_connection]
    names = {job.target}
    group = target_conf.get_target(CONF, job.target)
    if group is not None and group.api_target:
        names.add(group.api_target)
    # A cells fan-out opens the nova targets of this API database.
    names.update(_cell_targets(job.target))
    for name in names:
        group = target_conf.get_target(CONF, name)
        if group is not None:
            urls += [group.connection, group.archive_connection]
    return [url for url in urls if url]


def secrets(job):
    found = []
    for url in _urls(job):
        found.extend(messages.url_secrets(url))
    return tuple(found)


# Parameters and configuration


def load_params(job):
    """The job's parameters, validated again by the worker.

    Ages count back from when the job was created, not from when this
    attempt started, so a job taken over after a crash selects the same
    rows as the attempt it continues.
    """
    return purge_params.Params.from_dict(dict(job.params or {}),
                                         now=job.created_at)


def _group(name):
    group = target_conf.get_target(CONF, name)
    if group is None:
        raise exception.TargetNotFound(target=name)
    return group


def _backend_options(kind, name, group, job, engine):
    # One directory per target: expiring a table's old files must not
    # reach another target's table of the same name.
    options = {'job_id': job.uuid,
               'directory': os.path.join(CONF.purge.archive_dir, name),
               'engine': engine}
    if kind == 'database':
        url = group.archive_connection or CONF.purge.archive_connection
        if not url:
            raise PurgeJobError(reason=(
                'The database archive backend needs an archive database: '
                'set archive_connection in [target:%s] or in [purge].'
                % name))
        options.update(url=url, source_url=group.connection)
    return options


def _open_backend(kind, name, group, job, engine):
    return backends.get(kind, **_backend_options(kind, name, group, job,
                                                 engine))


def _reflect(engine, profile, params):
    graph = schema.reflect(engine, profile)
    missing = [t for t in (params.tables or ()) if t not in graph.tables]
    if missing:
        raise errors.UnknownTable(
            'Table(s) %s not found in the target schema.'
            % ', '.join(sorted(missing)))
    return graph


# The lock


def _lock_holder(lock, job):
    """The uuid of the running purge job that says it holds ``lock``.

    tooz does not tell who holds a lock; each holder lists its locks in
    its progress (published at its next heartbeat).
    """
    dbapi = db_api.get_instance()
    for other in dbapi.list_jobs(filters={'state': 'running',
                                          'type': 'purge'}):
        if other.uuid != job.uuid and lock in (
                (other.progress or {}).get('locks') or ()):
            return other.uuid
    return None


@contextlib.contextmanager
def target_lock(name, job, progress):
    """Hold ``purge-<name>``, waiting (and saying so) while another has it."""
    deadline = time.monotonic() + CONF.purge.lock_wait
    lock = lock_name(name)
    while True:
        with coordination.lock(lock, blocking=False) as held:
            if held:
                locks = progress.snapshot().get('locks') or []
                progress.update(**{WAITING: None, 'locks': locks + [lock]})
                try:
                    yield
                finally:
                    locks = progress.snapshot().get('locks') or []
                    progress.update(locks=[x for x in locks if x != lock])
                return
        holder = _lock_holder(lock, job)
        progress.update(phase=WAITING, **{WAITING: {
            'lock': lock, 'target': name, 'job': holder}})
        if time.monotonic() >= deadline:
            raise PurgeJobError(reason=(
                'Another purge job (%s) held the lock of target %s for '
                'longer than [purge] lock_wait (%s s).'
                % (holder or 'unknown', name, CONF.purge.lock_wait)))
        progress.wait(CONF.purge.lock_poll)
        progress.check()


# Progress


class Tally:
    """Per-table counters of one target, published through Progress.

    ``base`` holds what earlier attempts of the job did, read from the
    journal; the library reports what this attempt does.
    """

    def __init__(self, progress, scope=None, base=None):
        self.progress = progress
        self.scope = scope
        self.base = base or {}
        self.tables = {}
        self.extra = {}

    def merged(self):
        tables = {}
        for name in sorted(set(self.base) | set(self.tables)):
            row = {}
            for source in (self.base.get(name) or {},
                           self.tables.get(name) or {}):
                for key in COUNTERS:
                    if key in source:
                        row[key] = row.get(key, 0) + int(source[key] or 0)
            tables[name] = row
        return tables

    def final(self, tables):
        """Publish the library's final per-table counts as they are."""
        self.base = {}
        self.tables = {name: dict(counts)
                       for name, counts in (tables or {}).items()}
        self.publish()

    def report(self, tables, **extra):
        """The ``progress`` callable the purge library calls."""
        for name, counts in (tables or {}).items():
            self.tables[name] = dict(counts)
        self.extra.update(extra)
        self.publish()
        # Between batches: the one safe place to stop.
        self.progress.check()

    def publish(self):
        merged = self.merged()
        if self.scope is None:
            self.progress.update(tables=merged, **_public(self.extra))
        else:
            cells = self.progress.snapshot().get('cells') or {}
            cell = dict(cells.get(self.scope) or {}, tables=merged)
            cells[self.scope] = cell
            self.progress.update(cells=cells,
                                 tables=_sum_cells(cells))


def _public(extra):
    # The library may report anything; keep what is JSON-plain and small.
    public = {k: v for k, v in extra.items()
              if k in ('batches', 'phase', 'current_table', 'waiting')}
    if 'phase' in public and public['phase'] != 'waiting':
        public['waiting'] = None
    return public


def _sum_cells(cells):
    total = {}
    for cell in cells.values():
        for name, counts in (cell.get('tables') or {}).items():
            row = total.setdefault(name, dict.fromkeys(COUNTERS, 0))
            for key in COUNTERS:
                row[key] += int(counts.get(key) or 0)
    return total


def _journal_base(journal):
    """Per-table counts of the batches earlier attempts finished.

    The library reports what this attempt does; together they are the
    job's exact counts, whichever worker ran which batch.
    """
    base = {}
    for batch in journal.batches(state=purge_journal.DONE):
        for name, n in (batch.counts or {}).items():
            row = base.setdefault(name, dict.fromkeys(
                ('planned', 'archived', 'deleted'), 0))
            for key in row:
                row[key] += n
    return base


# Modes on one target


def _followup_api(name, group, kind, job, opened):
    """(api_engine, api_graph, api_backend) of a nova target, or a reason.

    :param kind: the archive backend kind; ``job`` names the archive
        (files are kept per job).
    """
    if group.profile != 'nova':
        return None, None
    if not group.api_target:
        return None, ('target %s sets no api_target, so the API database '
                      'rows of archived instances (instance_mappings, '
                      'request_specs, instance_group_member) were left '
                      'alone' % name)
    api_group = target_conf.get_target(CONF, group.api_target)
    if api_group is None or api_group.profile != 'nova_api':
        raise PurgeJobError(reason=(
            'api_target %s of target %s is not a configured nova_api '
            'target.' % (group.api_target, name)))
    api_engine = targets.target_engine(group.api_target,
                                       api_group.connection, pooled=True)
    opened.callback(api_engine.dispose)
    api_graph = schema.reflect(api_engine, profiles.get('nova_api'))
    api_backend = _open_backend(kind, group.api_target, api_group, job,
                                api_engine)
    opened.callback(api_backend.close)
    return (api_engine, api_graph, api_backend), None


def _archive(name, group, params, job, progress, journal, engine, graph,
             tally):
    with contextlib.ExitStack() as opened:
        backend = _open_backend(params.backend, name, group, job, engine)
        opened.callback(backend.close)
        api, skipped = _followup_api(name, group, params.backend, job,
                                     opened)
        result = executor.archive(
            engine, graph, backend, params, journal, progress=tally.report,
            api=api, sleep=progress.wait, now=job.created_at)
    # The library returns early when a wait was interrupted; the runner
    # must see the interruption, not a finished job.
    progress.check()
    if skipped and not (result.get('followups') or {}).get('skipped'):
        result['followups'] = {'skipped': skipped}
    return result


def _restore(name, group, params, job, progress, engine, graph, tally):
    dbapi = db_api.get_instance()
    source = dbapi.get_job(params.restore_job)
    # The rows are where the archive job put them, whatever this job's
    # own backend parameter says.
    kind = (source.params or {}).get('backend') or 'shadow'
    journal = db_journal.DbJournal(
        dbapi, source.uuid, (job.id, job.worker, job.lease_version), name,
        progress=progress)
    with contextlib.ExitStack() as opened:
        backend = _open_backend(kind, name, group, source, engine)
        opened.callback(backend.close)
        api, skipped = _followup_api(name, group, kind, source, opened)
        result = purge_restore.restore(engine, graph, backend, journal,
                                       progress=tally.report, api=api)
    progress.check()
    return result


def _expire(name, group, params, job, progress, engine, graph, tally):
    backend = _open_backend(params.backend, name, group, job, engine)
    try:
        result = retention.expire(backend, graph, params,
                                  progress=tally.report, sleep=progress.wait,
                                  now=job.created_at)
    finally:
        backend.close()
    progress.check()
    return result


def run_target(name, job, params, progress, scope=None):
    """Run the job's mode on one target; return the library's result."""
    result, tally = _run_target(name, job, params, progress, scope)
    if 'tables' in result:
        tally.final(result['tables'])
    return result


def _run_target(name, job, params, progress, scope):
    group = _group(name)
    profile = profiles.get(group.profile)
    dbapi = db_api.get_instance()
    engine = targets.target_engine(name, group.connection, pooled=True)
    try:
        if params.mode == 'plan':
            tally = Tally(progress, scope)

            def on_table(done, total, table):
                progress.update(tables_done=done, tables_total=total,
                                current_table=table)
                progress.check()

            result = purge_plan.plan(
                engine, profile, params,
                statement_timeout=CONF.worker.statement_timeout,
                now=job.created_at, on_table=on_table)
            progress.check()
            return result, tally
        graph = _reflect(engine, profile, params)
        if params.mode == 'archive':
            journal = db_journal.DbJournal.for_run(
                dbapi, job, job.worker, scope=name,
                progress=progress, on_done=lambda b: progress.snapshot())
            tally = Tally(progress, scope, base=_journal_base(journal))
            tally.publish()
            return _archive(name, group, params, job, progress, journal,
                            engine, graph, tally), tally
        tally = Tally(progress, scope)
        if params.mode == 'restore':
            return _restore(name, group, params, job, progress, engine,
                            graph, tally), tally
        return _expire(name, group, params, job, progress, engine, graph,
                       tally), tally
    finally:
        engine.dispose()


# Cells


def _cell_targets(api_target):
    """Configured nova targets whose api_target is ``api_target``."""
    found = []
    for name in CONF.targets:
        group = target_conf.get_target(CONF, name)
        if group.profile == 'nova' and group.api_target == api_target:
            found.append(name)
    return found


def url_key(url):
    """What identifies a database in a URL, without its password.

    Two URLs naming the same database on the same server with the same
    user compare equal whatever their driver, query or password.
    """
    try:
        parsed = sa_url.make_url(url)
    except Exception:
        return None
    backend = parsed.get_backend_name()
    database = parsed.database
    if backend == 'sqlite':
        if database and database != ':memory:':
            database = os.path.realpath(database)
        return (backend, database)
    port = parsed.port or {'mysql': 3306, 'postgresql': 5432}.get(backend)
    return (backend, (parsed.host or 'localhost').lower(), port, database,
            parsed.username)


def _cell_mappings(api_name):
    """(uuid, name, database_connection) of every cell of an API DB."""
    group = _group(api_name)
    engine = targets.target_engine(api_name, group.connection)
    try:
        graph = schema.reflect(engine, profiles.get('nova_api'))
        table = graph.tables.get('cell_mappings')
        if table is None:
            raise PurgeJobError(reason=(
                'target %s has no cell_mappings table; is it a nova API '
                'database?' % api_name))
        with engine.connect() as conn:
            rows = conn.execute(table.select().with_only_columns(
                table.c.uuid, table.c.name,
                table.c.database_connection)).all()
            conn.rollback()
        return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def match_cells(api_name):
    """Pair the cells of an API DB with configured nova targets.

    URLs from the database are only parsed and compared, never opened.

    :returns: (matched [(cell name, cell uuid, target)], unmatched
        [{"cell", "uuid", "connection" (redacted), "reason"}])
    """
    by_key = {}
    for name in _cell_targets(api_name):
        key = url_key(_group(name).connection)
        if key is not None:
            by_key.setdefault(key, name)
    matched, unmatched = [], []
    for uuid, cell, url in _cell_mappings(api_name):
        key = url_key(url) if url else None
        if key is None:
            unmatched.append({
                'cell': cell, 'uuid': uuid,
                'connection': utils.redact_url(url),
                'reason': 'its database_connection does not parse (a '
                          'templated URL?)'})
        elif key in by_key:
            matched.append((cell, uuid, by_key[key]))
        else:
            unmatched.append({
                'cell': cell, 'uuid': uuid,
                'connection': utils.redact_url(url),
                'reason': 'no configured nova target with api_target = '
                          '%s has this database' % api_name})
    return matched, unmatched


def _fan_out(job, params, progress):
    matched, unmatched = match_cells(job.target)
    cells = {cell: {'target': target, 'uuid': uuid, 'state': 'pending',
                    'tables': {}}
             for cell, uuid, target in matched}
    progress.update(cells=cells, unmatched_cells=unmatched)
    results = {}
    partial = []
    for cell, uuid, target in matched:
        _cell_state(progress, cell, 'running')
        lock = (contextlib.nullcontext() if params.mode == 'plan'
                else target_lock(target, job, progress))
        with lock:
            progress.update(phase=params.mode)
            result = run_target(target, job, params, progress, scope=cell)
        results[cell] = dict(result, target=target, uuid=uuid)
        _cell_state(progress, cell, result.get('outcome') or 'succeeded')
        if result.get('outcome') == 'partial':
            partial.append('%s: %s' % (cell, result.get('reason')))
    reasons = partial + ['cell %s (%s) not matched: %s'
                         % (u['cell'], u['uuid'], u['reason'])
                         for u in unmatched]
    out = {'mode': params.mode, 'cells': results, 'unmatched': unmatched,
           'tables': _sum_cells({c: {'tables': r.get('tables') or {}}
                                 for c, r in results.items()}),
           'outcome': 'partial' if reasons else 'succeeded'}
    if reasons:
        out['reason'] = '; '.join(reasons)
    return out


def _cell_state(progress, cell, state):
    cells = progress.snapshot().get('cells') or {}
    cells.setdefault(cell, {})['state'] = state
    progress.update(cells=cells)


# The job


def run(job, progress):
    """Run a purge job; returns the result the runner stores."""
    params = load_params(job)
    _group(job.target)
    progress.update(mode=params.mode)
    started = time.monotonic()
    timings = {}
    if params.mode == 'plan':
        # Read-only: no lock, so a plan can run beside an archive.
        lock = contextlib.nullcontext()
    else:
        lock = target_lock(job.target, job, progress)
    with lock:
        timings['lock_wait_seconds'] = round(time.monotonic() - started, 3)
        progress.update(phase=params.mode)
        if params.cells == 'all':
            result = _fan_out(job, params, progress)
        else:
            result = run_target(job.target, job, params, progress)
    result = dict(result)
    result.setdefault('mode', params.mode)
    result['params'] = params.to_dict()
    result['timings'] = dict(
        result.get('timings') or {}, **timings,
        run_seconds=round(time.monotonic() - started, 3))
    progress.update(phase='finished')
    return result


def summary(result):
    """What the audit record keeps of a finished purge job."""
    result = result or {}
    keep = ('mode', 'params', 'tables', 'totals', 'batches', 'location',
            'checksums', 'followups', 'timings', 'outcome', 'reason',
            'unmatched')
    out = {k: result[k] for k in keep if k in result}
    if 'cells' in result:
        fields = ('target', 'tables', 'totals', 'location', 'checksums',
                  'outcome')
        out['cells'] = {cell: {k: r.get(k) for k in fields}
                        for cell, r in result['cells'].items()}
    return out
