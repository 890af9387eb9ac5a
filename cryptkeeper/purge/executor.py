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

"""Archive mode: copy soft-deleted rows to the archive, verify, delete.

Work goes in batches, each a tree: up to ``batch_size`` root rows chosen
by keyset pagination and every row that belongs to them, found with one
SELECT per edge per batch. A batch is journaled before anything of it is
written, archived and deleted child-first in one bounded source
transaction, and marked done after that committed. A job stopped
anywhere (cancelled, worker killed) settles its unfinished batch on the
next start by looking where the rows are, so no row is lost or archived
twice and the counts stay exact.
"""

import collections
import datetime
import hashlib
import logging
import time

from oslo_db import exception as db_exc
from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import plan as purge_plan
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.purge import schema

LOG = logging.getLogger(__name__)

# Keys per IN list: well under every driver's parameter limit.
CHUNK = 1000
RETRIES = 5
BACKOFF = (0.5, 1, 2, 4, 8)
NO_API_TARGET = 'no api_target configured for this nova target'

# Driver error codes that mean "try the transaction again".
_MYSQL_RETRY = frozenset((
    1205,   # lock wait timeout
    1213,   # deadlock
    2003,   # cannot connect
    2006,   # server has gone away
    2013,   # lost connection during query
    1927,   # connection killed (MariaDB)
    4031,   # disconnected by the server (idle timeout)
))
_PG_RETRY = ('40P01', '40001', '55P03', '57P01', '57P02', '57P03')
_RETRY_WORDS = ('database is locked', 'server closed the connection',
                'lost connection', 'gone away', 'terminating connection',
                'connection reset', 'could not connect')


class SourceChanged(errors.PurgeError):
    """Rows of a batch changed under it; the batch is tried again."""


def retryable(exc):
    """Whether the batch that raised ``exc`` should be tried again.

    Deadlocks, lock timeouts, serialization failures and lost
    connections; and rows that changed while the batch ran (a copy that
    no longer matches is settled and chosen again, at most RETRIES times).
    """
    if isinstance(exc, (db_exc.DBDeadlock, db_exc.DBConnectionError,
                        SourceChanged, errors.VerificationFailed)):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        args = getattr(orig, 'args', ()) or ()
        if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRY:
            return True
        code = getattr(orig, 'pgcode', None) or getattr(orig, 'sqlstate',
                                                        None)
        if code and (code in _PG_RETRY or code.startswith('08')):
            return True
        text = str(orig).lower()
        return any(word in text for word in _RETRY_WORDS)
    return False


def _default_sleep(seconds):
    time.sleep(seconds)
    return False


def chunks(items):
    return backends.chunks(items, CHUNK)


# rows.digest is the one digest; the name stays for this module's callers.


def _digests(graph, rows_by_table):
    """{table: (rows, sha256)} of a batch's rows."""
    return {name: purge_rows.digest(rows.values(), graph.pk(name))
            for name, rows in rows_by_table.items() if rows}


def _decode_keys(table, pk, keys):
    columns = [table.c[c] for c in pk]
    out = []
    for key in keys:
        out.append(tuple(_decode(col.type, v)
                         for col, v in zip(columns, key, strict=True)))
    return out


def _decode(col_type, value):
    if isinstance(value, str) and isinstance(col_type, sa.DateTime):
        return datetime.datetime.fromisoformat(value)
    return value


def source_rows(conn, graph, name, keys):
    """Rows of ``name`` with these keys (decoded), as dicts."""
    table = graph.tables[name]
    pk = graph.pk(name)
    columns = [table.c[c] for c in pk]
    out = []
    for chunk in chunks(_decode_keys(table, pk, keys)):
        stmt = sa.select(table).where(backends.keys_clause(columns, chunk))
        out.extend(dict(r) for r in conn.execute(stmt).mappings())
    return out


def count_keys(conn, graph, name, keys):
    table = graph.tables[name]
    pk = graph.pk(name)
    columns = [table.c[c] for c in pk]
    n = 0
    for chunk in chunks(_decode_keys(table, pk, keys)):
        n += int(conn.execute(sa.select(sa.func.count()).select_from(
            table).where(backends.keys_clause(columns, chunk))).scalar() or 0)
    return n


def delete_keys(conn, graph, name, keys):
    """Delete rows by key; return how many went."""
    table = graph.tables[name]
    pk = graph.pk(name)
    columns = [table.c[c] for c in pk]
    n = 0
    for chunk in chunks(keys):
        n += conn.execute(table.delete().where(
            backends.keys_clause(columns, chunk))).rowcount
    return n


def _connect(engine):
    """A connection for a batch: one snapshot for all its statements.

    PostgreSQL's default (read committed) gives each statement its own
    snapshot; a batch must copy, check and delete the rows it read, so it
    runs repeatable read, where a row changed by someone else makes the
    delete fail (and the batch is tried again) instead.
    """
    conn = engine.connect()
    if engine.dialect.name in ('postgresql', 'mysql'):
        conn = conn.execution_options(isolation_level='REPEATABLE READ')
    return conn


class Tree:
    """Rows of one batch per table, and which roots each belongs to."""

    def __init__(self):
        self.rows = collections.defaultdict(dict)
        self.origin = collections.defaultdict(dict)
        self.bad = set()
        self.blocked_by = collections.Counter()

    def add(self, name, key, row, origins):
        known = self.origin[name].get(key)
        if known is None:
            self.rows[name][key] = row
            self.origin[name][key] = origins
            return True
        self.origin[name][key] = known | origins
        return False

    def prune(self):
        """Drop the rows that belong to blocked roots only."""
        if not self.bad:
            return
        for name in list(self.rows):
            for key, origins in list(self.origin[name].items()):
                if origins <= self.bad:
                    del self.rows[name][key]
                    del self.origin[name][key]
            if not self.rows[name]:
                del self.rows[name]
                del self.origin[name]

    def tables(self):
        return [n for n, rows in self.rows.items() if rows]


def key_columns(graph, name):
    """The columns of ``name`` a tree needs when it needs no values."""
    table = graph.tables[name]
    names = set(graph.pk(name))
    for edge in graph.children(name):
        names.update(edge.parent_cols)
    for edge in graph.parents(name):
        names.update(edge.child_cols)
    soft = graph.soft_delete(name)
    if soft is not None:
        names.add(soft.column)
    age = graph.age_column(name)
    if age is not None:
        names.add(age)
    return [c for c in table.columns if c.name in names]


def gather(conn, graph, root, root_rows, order, light=False,
           root_where=None):
    """The tree of ``root_rows``: every row that goes with them.

    One SELECT per edge per chunk of parent keys. A row that will not go
    (a live row through a foreign key, or a row of a table with no
    soft-delete column and no ownership) blocks every root whose tree
    references it.

    :param order: the tables a tree of ``root`` can reach, parents first.
    :param light: read only the key columns (see key_columns), when only
        the keys of the tree are wanted.
    :param root_where: ``root_where(alias)``, an SQL condition that holds
        for exactly ``root_rows`` in this transaction; the root's children
        are then found by a join on it rather than by long IN lists.
    """
    tree = Tree()
    pk = graph.pk(root)
    for i, row in enumerate(root_rows):
        tree.add(root, tuple(row[c] for c in pk), row, frozenset((i,)))
    for name in order:
        if name not in tree.rows:
            continue
        frontier = dict(tree.rows[name])
        joined = root_where if name == root else None
        while frontier:
            frontier = _gather_edges(conn, graph, tree, name, frontier,
                                     light, joined)
            joined = None
    return tree


def _child_queries(graph, edge, stmt, columns, index, joined):
    """SELECTs of the child rows of ``index``'s parent values."""
    child = graph.tables[edge.child]
    if joined is not None and edge.parent != edge.child:
        parent = graph.tables[edge.parent].alias()
        on = sa.and_(*[child.c[c] == parent.c[p] for p, c in zip(
            edge.parent_cols, edge.child_cols, strict=True)])
        yield stmt.select_from(child.join(parent, on)).where(
            joined(parent))
        return
    for chunk in chunks(index):
        yield stmt.where(backends.keys_clause(columns, chunk))


def _gather_edges(conn, graph, tree, name, frontier, light, joined=None):
    """Follow every edge of ``name`` from the ``frontier`` rows.

    Returns the rows of ``name`` itself newly found through a self
    reference, which are followed in turn.
    """
    new_self = {}
    origins = tree.origin[name]
    # Origins of a row the database matched to a parent value that is
    # not equal in Python (a collation that ignores case): any of them.
    anyone = frozenset().union(*[origins[k] for k in frontier])
    for edge in graph.children(name):
        index = collections.defaultdict(frozenset)
        for key, row in frontier.items():
            value = tuple(row[c] for c in edge.parent_cols)
            if None not in value:
                index[value] = index[value] | origins[key]
        if not index:
            continue
        child = graph.tables[edge.child]
        ccols = [child.c[c] for c in edge.child_cols]
        mode = graph.takes(edge)
        if mode == schema.TAKE_NONE:
            for stmt in _child_queries(graph, edge, sa.select(*ccols), ccols,
                                       index, joined):
                for crow in conn.execute(stmt):
                    tree.bad |= index.get(tuple(crow), anyone)
                    tree.blocked_by[edge.child] += 1
            continue
        stmt = (sa.select(*key_columns(graph, edge.child)) if light
                else sa.select(child))
        names = [c.name for c in stmt.selected_columns]
        ref = [names.index(c) for c in edge.child_cols]
        pk = [names.index(c) for c in graph.pk(edge.child)]
        take_all = mode == schema.TAKE_ALL
        rows = tree.rows[edge.child]
        known = tree.origin[edge.child]
        for query in _child_queries(graph, edge, stmt, ccols, index, joined):
            for values in conn.execute(query):
                found = index.get(tuple([values[i] for i in ref]), anyone)
                crow = dict(zip(names, values, strict=True))
                if take_all or graph.is_deleted(edge.child, crow):
                    key = tuple([values[i] for i in pk])
                    seen = known.get(key)
                    if seen is None:
                        rows[key] = crow
                        known[key] = found
                        if edge.child == name:
                            new_self[key] = crow
                    else:
                        known[key] = seen | found
                else:
                    tree.bad |= found
                    tree.blocked_by[edge.child] += 1
    return new_self


class _Part:
    """One database's side of a batch: its engine, graph and backend."""

    def __init__(self, engine, graph, backend):
        self.engine = engine
        self.graph = graph
        self.backend = backend


class Archiver:
    """One run of archive mode; see :func:`archive`."""

    def __init__(self, engine, graph, backend, params, journal,
                 progress=None, api=None, sleep=None, now=None):
        self.source = _Part(engine, graph, backend)
        self.graph = graph
        self.params = params
        self.journal = journal
        self.progress = progress
        self.sleep = sleep or _default_sleep
        self.now = now or params.now or timeutils.utcnow()
        self.cutoff = params.cutoff(self.now)
        self.roots, self.names = purge_plan.tables_in_scope(graph, params)
        # Refuse a cycle before anything is written.
        graph.delete_order(self.names)
        self.followups = [f for n in self.names for f in graph.followups(n)]
        self.api = _Part(*api) if api else None
        self.window = params.window_minutes()
        self.planned = {}
        self.run_counts = collections.defaultdict(
            lambda: {'archived': 0, 'deleted': 0})
        self.counts = collections.Counter()
        self.digests = {}
        self.api_counts = collections.Counter()
        self.api_digests = {}
        self.batches = 0
        self.blocked = collections.Counter()
        self.blocked_by = collections.defaultdict(collections.Counter)
        self.retries = 0
        self.interrupted = None
        # Batches prepared and not yet done, in seq order.
        self.pending = []
        self._last_start = None
        self._last_rows = 0
        self.markers = None
        self.settled = collections.Counter()

    # -- the run --------------------------------------------------------------

    def run(self):
        src = self.source
        src.backend.prepare(self.graph, sorted(
            n for n in self.names if self.graph.archivable(n)))
        if self.api is not None:
            self.api_tables = self._api_tables()
            self.api.backend.prepare(self.api.graph, self.api_tables)
        self._load_journal()
        for batch in self.journal.pending():
            self._retrying(self._settle, batch)
        self.markers = dict(self.journal.last_marker())
        self.seq = self.journal.next_seq()
        self.planned = self._retrying(self._planned)
        # Rows of batches settled as done count as planned by this attempt
        # too: the journal of earlier attempts did not have them as done.
        for name, n in self.settled.items():
            self.planned[name] = self.planned.get(name, 0) + n
        self._report(phase='archive')
        for root in self.roots:
            self._archive_root(root)
            if self.interrupted:
                break
        left = {} if self.interrupted else self._retrying(self._left)
        return self._result(left)

    def _retrying(self, call, *args):
        attempt = 0
        while True:
            try:
                if call != self._settle:
                    # What a failed attempt left behind comes first.
                    for batch in list(self.pending):
                        self._settle(batch)
                return call(*args)
            except Exception as exc:
                if not retryable(exc) or attempt >= RETRIES:
                    raise
                delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                attempt += 1
                self.retries += 1
                LOG.warning('Purge batch failed (%s: %s); attempt %d of %d '
                            'in %s s', type(exc).__name__, exc, attempt,
                            RETRIES, delay)
                if self.sleep(delay):
                    self.interrupted = 'interrupted while retrying'
                    raise

    def _load_journal(self):
        """Counts and checksums of the batches earlier attempts finished."""
        for batch in self.journal.batches(state=purge_journal.DONE):
            self._account(batch)

    def _account(self, batch):
        for name, n in (batch.counts or {}).items():
            self.counts[name] += n
            self._chain(self.digests, name, batch.checksums.get(name))
        for tables in (batch.followup or {}).values():
            for name, keys in tables.items():
                self.api_counts[name] += len(keys)
        if batch.keys:
            self.batches += 1

    @staticmethod
    def _chain(digests, name, sha):
        if sha is None:
            return
        if name not in digests:
            digests[name] = hashlib.sha256()
        digests[name].update(sha.encode('ascii') + b'\n')

    def _planned(self):
        with self.source.engine.connect() as conn:
            try:
                return purge_plan.planned_counts(
                    conn, self.graph, self.params, self.cutoff, self.now)
            finally:
                conn.rollback()

    def _left(self):
        """Root rows that still match: rows the run had to leave."""
        left = {}
        with self.source.engine.connect() as conn:
            try:
                for root in self.roots:
                    table = self.graph.tables[root]
                    where = self.graph.root_clause(
                        root, table, self.cutoff, self.now,
                        self.params.project_id)
                    if where is None:
                        continue
                    n = int(conn.execute(sa.select(sa.func.count()).where(
                        where).select_from(table)).scalar() or 0)
                    if n:
                        left[root] = n
            finally:
                conn.rollback()
        return left

    # -- pacing ---------------------------------------------------------------

    def _wait(self, seconds, why):
        if seconds <= 0:
            return False
        self._report(phase='waiting', waiting={'reason': why,
                                               'seconds': round(seconds, 3)})
        if self.sleep(seconds):
            self.interrupted = 'interrupted while waiting (%s)' % why
            return True
        return False

    def _pace(self):
        """Rate limit, pause and window before the next batch."""
        if self._last_start is not None:
            rate = self.params.max_rows_per_second
            if rate and self._last_rows:
                # The last batch may not have taken less than its rows
                # at the allowed rate.
                need = (self._last_rows / float(rate) -
                        (time.monotonic() - self._last_start))
                if self._wait(need, 'max_rows_per_second'):
                    return True
            if self._last_rows and self._wait(self.params.pause or 0,
                                              'pause'):
                return True
        while self.window is not None:
            wait = purge_params.seconds_until_open(self.window,
                                                   timeutils.utcnow())
            if wait <= 0:
                break
            if self._wait(wait, 'window %s' % self.params.window):
                return True
        return False

    # -- batches --------------------------------------------------------------

    def _archive_root(self, root):
        order = self.graph.parents_order(self.graph.reachable([root]))
        while True:
            # Waits only before a batch that has rows to move.
            if not self._retrying(self._has_roots, root) or self._pace():
                return
            started = time.monotonic()
            result = self._retrying(self._batch, root, order)
            if result is None:
                return
            rows, chosen = result
            self._last_start = started
            self._last_rows = rows
            self._report(phase='archive', current_table=root,
                         batches=self.batches)
            if chosen < self.params.batch_size:
                return

    def _has_roots(self, root):
        with self.source.engine.connect() as conn:
            try:
                return bool(self._select_roots(conn, root, limit=1))
            finally:
                conn.rollback()

    @staticmethod
    def _after(columns, marker, table):
        """SQL: the key of ``columns`` comes after ``marker`` (keyset)."""
        marker = _decode_keys(table, [c.name for c in columns], [marker])[0]
        if len(columns) == 1:
            return columns[0] > marker[0]
        return sa.tuple_(*columns) > sa.tuple_(*marker)

    def _root_range(self, root, last):
        """``where(alias)``: the root rows of the batch that ends at last."""
        graph = self.graph
        pk = graph.pk(root)
        start = self.markers.get(root)
        table = graph.tables[root]
        last = _decode_keys(table, pk, [last])[0]

        def where(alias):
            columns = [alias.c[c] for c in pk]
            clauses = [graph.root_clause(root, alias, self.cutoff, self.now,
                                         self.params.project_id)]
            if start:
                clauses.append(self._after(columns, start, table))
            if len(columns) == 1:
                clauses.append(columns[0] <= last[0])
            else:
                clauses.append(sa.tuple_(*columns) <= sa.tuple_(*last))
            return sa.and_(*clauses)

        return where

    def _select_roots(self, conn, root, limit=None):
        graph = self.graph
        table = graph.tables[root]
        pk = graph.pk(root)
        columns = [table.c[c] for c in pk]
        where = [graph.root_clause(root, table, self.cutoff, self.now,
                                   self.params.project_id)]
        if where[0] is None:
            return []
        marker = self.markers.get(root)
        if marker:
            where.append(self._after(columns, marker, table))
        stmt = (sa.select(*(columns if limit else [table])).where(*where)
                .order_by(*columns).limit(limit or self.params.batch_size))
        return [dict(r) for r in conn.execute(stmt).mappings()]

    def _batch(self, root, order):
        """Archive one batch of ``root``; None when no root row is left."""
        graph = self.graph
        src = self.source
        atomic = src.backend.atomic_with_source
        with _connect(src.engine) as conn:
            with conn.begin():
                root_rows = self._select_roots(conn, root)
                if not root_rows:
                    return None
                pk = graph.pk(root)
                marker = purge_rows.plain_key([root_rows[-1][c] for c in pk])
                tree = gather(conn, graph, root, root_rows, order,
                              root_where=self._root_range(root, marker))
                blocked = len(tree.bad), tree.blocked_by
                tree.prune()
                if not tree.tables():
                    # Every root of the batch is held by live rows.
                    self._blocked(root, *blocked)
                    self.markers[root] = marker
                    return 0, len(root_rows)
                sums = _digests(graph, tree.rows)
                batch = self._new_batch(root, marker, tree)
                for name, (_, sha) in sums.items():
                    batch.checksums[name] = sha
                self.journal.prepare(batch)
                self.pending.append(batch)
                self._write(conn if atomic else None, src, tree.rows, batch,
                            sums)
                for name in graph.delete_order(tree.tables()):
                    gone = delete_keys(conn, graph, name,
                                       list(tree.rows[name]))
                    if gone != len(tree.rows[name]):
                        raise SourceChanged(
                            '%d of %d rows of %s changed during the batch'
                            % (len(tree.rows[name]) - gone,
                               len(tree.rows[name]), name))
        del tree
        self._blocked(root, *blocked)
        self.markers[root] = marker
        if batch.followup:
            self._followup(batch, dict(batch.followup))
        self._done(batch)
        return sum(batch.counts.values()), len(root_rows)

    def _blocked(self, root, roots, by):
        if roots:
            self.blocked[root] += roots
            self.blocked_by[root].update(by)

    def _new_batch(self, root, marker, tree):
        batch = purge_journal.Batch(seq=self.seq, root=root, marker=marker)
        self.seq += 1
        for name in tree.tables():
            rows = tree.rows[name]
            batch.keys[name] = [purge_rows.plain_key(k) for k in sorted(rows)]
            batch.counts[name] = len(rows)
        batch.location = dict(self.source.backend.location())
        if self.followups and self.api is not None:
            batch.followup = self._followup_keys(tree)
        return batch

    def _write(self, conn, part, rows_by_table, batch, sums):
        """Write child-first, check, verify; flush a separate archive.

        :param sums: {table: (rows, sha256)} of the source rows.
        """
        graph = part.graph
        order = graph.delete_order([n for n in rows_by_table
                                    if rows_by_table[n]])
        written = {}
        for name in order:
            rows = list(rows_by_table[name].values())
            written[name] = part.backend.write(conn, graph.tables[name],
                                               rows, batch)
            if written[name].get('rows') != len(rows):
                raise SourceChanged(
                    'The archive took %s of the %d rows of %s; the rows '
                    'changed during the batch.'
                    % (written[name].get('rows'), len(rows), name))
        for name in order:
            n, sha = sums[name]
            if part is self.source:
                batch.counts[name] = n
                batch.checksums[name] = sha
            got = written[name].get('sha256')
            if got is not None and got != sha:
                raise errors.VerificationFailed(
                    'The archive wrote %d rows of %s with checksum %s; the '
                    'source rows have checksum %s.' % (n, name, got, sha))
        for name in order:
            n, sha = sums[name]
            part.backend.verify(conn, graph.tables[name],
                                [list(k) for k in rows_by_table[name]],
                                {'rows': n, 'sha256': sha})
        if conn is None:
            part.backend.flush(batch)

    def _done(self, batch):
        self.journal.done(batch)
        self.pending = [b for b in self.pending if b.seq != batch.seq]
        self._account(batch)
        for name, n in batch.counts.items():
            self.run_counts[name]['archived'] += n
            self.run_counts[name]['deleted'] += n

    # -- follow-ups in the API database ---------------------------------------

    def _api_tables(self):
        graph = self.api.graph
        names = set()
        for follow in self.followups:
            for name, column in follow.tables:
                if (graph.archivable(name) and
                        column in graph.tables[name].c):
                    names.add(name)
        return sorted(graph.reachable(names))

    def _followup_keys(self, tree):
        """{target: {table: keys}} of the API rows of this tree's rows."""
        out = {}
        with self.api.engine.connect() as conn:
            try:
                for follow in self.followups:
                    parents = tree.rows.get(follow.parent_table) or {}
                    values = sorted({r[follow.parent_column]
                                     for r in parents.values()
                                     if r[follow.parent_column] is not None})
                    if not values:
                        continue
                    target = out.setdefault(follow.target_profile, {})
                    for name, column in follow.tables:
                        if name in self.api_tables:
                            self._api_keys(conn, name, column, values,
                                           target)
            finally:
                conn.rollback()
        return {t: tables for t, tables in out.items() if tables}

    def _api_keys(self, conn, name, column, values, target):
        """Add to ``target`` the keys of the API rows ``values`` lead to."""
        graph = self.api.graph
        table = graph.tables[name]
        roots = []
        stmt = sa.select(*key_columns(graph, name))
        for chunk in chunks(values):
            roots.extend(dict(r) for r in conn.execute(
                stmt.where(table.c[column].in_(chunk))).mappings())
        if not roots:
            return
        order = graph.parents_order(graph.reachable([name]))
        sub = gather(conn, graph, name, roots, order, light=True)
        sub.prune()
        for tname in sub.tables():
            keys = target.setdefault(tname, [])
            keys.extend(map(purge_rows.plain_key, sorted(sub.rows[tname])))

    def _followup(self, batch, followup):
        """Archive the API rows of ``followup`` still in the API database.

        ``followup`` is {target: {table: keys}}; one transaction per
        target. The batch then records the keys that moved.
        """
        api = self.api
        graph = api.graph
        atomic = api.backend.atomic_with_source
        for target, tables in followup.items():
            found = {}
            sums = {}
            with _connect(api.engine) as conn:
                with conn.begin():
                    for name, keys in tables.items():
                        pk = graph.pk(name)
                        rows = source_rows(conn, graph, name, keys)
                        if rows:
                            found[name] = {tuple(r[c] for c in pk): r
                                           for r in rows}
                            sums[name] = purge_rows.digest(rows, pk)
                    if found:
                        self._write(conn if atomic else None, api, found,
                                    batch, sums)
                    for name in graph.delete_order(found):
                        gone = delete_keys(conn, graph, name,
                                           list(found[name]))
                        if gone != len(found[name]):
                            raise SourceChanged(
                                'API rows of %s changed during the batch'
                                % name)
            batch.followup[target] = {
                name: [purge_rows.plain_key(k) for k in sorted(rows)]
                for name, rows in found.items()}
            for name in found:
                self._chain(self.api_digests, name, sums[name][1])
        batch.followup = {t: v for t, v in batch.followup.items() if v}

    # -- settling a batch an earlier attempt left prepared --------------------

    def _settle(self, batch):
        """Finish ``batch`` or give it up, from where its rows are now."""
        state = self._settle_part(self.source, batch.keys, batch)
        if state == 'absent':
            # Nothing of it reached the archive: the rows are still where
            # they were (or someone else removed them), and the next batch
            # chooses them again.
            LOG.info('Purge batch %s was not archived; it is closed empty '
                     'and its rows are chosen again', batch.seq)
            batch.marker = self.journal.last_marker().get(batch.root)
            batch.keys, batch.counts, batch.checksums = {}, {}, {}
            batch.followup = {}
        else:
            self._checksums(batch)
        if state != 'absent' and batch.followup:
            if self.api is None:
                raise errors.PurgeError(
                    'Batch %s of an earlier attempt holds API database rows '
                    'but this run has no API target to finish them with.'
                    % batch.seq)
            for target, tables in list(batch.followup.items()):
                if self._settle_part(self.api, tables, batch) == 'absent':
                    self._followup(batch, {target: tables})
        self._done(batch)
        for name, n in batch.counts.items():
            self.settled[name] += n
        if self.markers is not None:
            # Where the next batch of this root starts.
            self.markers[batch.root] = batch.marker

    def _checksums(self, batch):
        """Checksums a batch that died before done could not record."""
        for name, keys in batch.keys.items():
            if name not in batch.checksums:
                copies = list(self.source.backend.read(
                    self.graph.tables[name], keys))
                count, checksum = purge_rows.digest(copies,
                                                    self.graph.pk(name))
                batch.counts[name], batch.checksums[name] = count, checksum

    def _settle_part(self, part, tables, batch):
        """Where the rows of ``tables`` are: 'done' or 'absent'.

        'done' when every row is archived and gone from the source
        (finishing the delete if a separate archive already has them),
        'absent' when none is archived.
        """
        graph = part.graph
        total = sum(len(k) for k in tables.values())
        archived = {n: part.backend.contains(graph.tables[n], k)
                    for n, k in tables.items()}
        with part.engine.connect() as conn:
            try:
                present = {n: count_keys(conn, graph, n, k)
                           for n, k in tables.items()}
            finally:
                conn.rollback()
        in_archive = sum(archived.values())
        in_source = sum(present.values())
        if in_archive == 0:
            return 'absent'
        if in_archive == total:
            if in_source:
                self._finish(part, tables, batch)
            return 'done'
        if in_source == total:
            # A separate archive that took part of the batch before the
            # stop: take those copies back out, the batch starts over.
            for name, keys in tables.items():
                if archived[name]:
                    part.backend.remove(graph.tables[name], keys)
            return 'absent'
        raise errors.PurgeError(
            'Batch %s of an earlier attempt is half done: %d of %d rows '
            'are in the archive and %d in the source (%s). Check the '
            'archive and the source before running the job again.'
            % (batch.seq, in_archive, total, in_source, ', '.join(
                '%s: %d archived, %d in source' % (n, archived[n], present[n])
                for n in sorted(tables))))

    def _finish(self, part, tables, batch):
        """Delete rows a separate archive already holds.

        Only after checking the archived copies are those very rows.
        """
        graph = part.graph
        with part.engine.connect() as conn:
            with conn.begin():
                for name in graph.delete_order(tables):
                    table = graph.tables[name]
                    pk = graph.pk(name)
                    rows = source_rows(conn, graph, name, tables[name])
                    if not rows:
                        continue
                    keys = [[r[c] for c in pk] for r in rows]
                    copies = list(part.backend.read(table, keys))
                    if (purge_rows.digest(copies, pk) !=
                            purge_rows.digest(rows, pk)):
                        raise errors.VerificationFailed(
                            'The archived copies of %d rows of %s differ '
                            'from the rows still in the source; nothing '
                            'was deleted.' % (len(rows), name))
                    delete_keys(conn, graph, name, keys)

    # -- reporting ------------------------------------------------------------

    def _report(self, **extra):
        if self.progress is None:
            return
        tables = {}
        for name in sorted(set(self.planned) | set(self.run_counts)):
            planned = self.planned.get(name, 0)
            counts = self.run_counts.get(name) or {}
            if not (planned or counts):
                continue
            tables[name] = {'planned': planned,
                            'archived': counts.get('archived', 0),
                            'deleted': counts.get('deleted', 0)}
        self.progress(tables, **extra)

    def _result(self, left):
        tables = {}
        earlier = {n: self.counts[n] - self.run_counts[n]['archived']
                   for n in self.counts} if self.counts else {}
        for name in sorted(set(self.planned) | set(self.counts)):
            planned = self.planned.get(name, 0) + earlier.get(name, 0)
            done = self.counts.get(name, 0)
            if planned or done:
                tables[name] = {'planned': planned, 'archived': done,
                                'deleted': done}
        totals = {k: sum(t[k] for t in tables.values())
                  for k in ('planned', 'archived', 'deleted')}
        result = {
            'mode': 'archive',
            'cutoff': self.cutoff.isoformat(),
            'roots': self.roots,
            'tables': tables,
            'totals': totals,
            'batches': self.batches,
            'retries': self.retries,
            'location': self.source.backend.location(),
            'checksums': {n: h.hexdigest()
                          for n, h in sorted(self.digests.items())},
            'followups': self._followups_result(),
            'left': left,
            'outcome': 'succeeded',
        }
        reasons = []
        for name, n in sorted(left.items()):
            by = self.blocked_by.get(name)
            why = ('live rows reference them: %s' % ', '.join(
                '%d in %s' % (c, t) for t, c in sorted(by.items()))
                if by else 'live rows reference them or they changed '
                'during the run')
            reasons.append('%d rows of %s were left (%s)' % (n, name, why))
        if self.interrupted:
            reasons.insert(0, self.interrupted)
        if reasons:
            result['outcome'] = 'partial'
            result['reason'] = '; '.join(reasons)
        if self.blocked:
            result['blocked'] = dict(self.blocked)
            result['blocked_by'] = {n: dict(c)
                                    for n, c in self.blocked_by.items()}
        return result

    def _followups_result(self):
        if not self.followups:
            return {}
        if self.api is None:
            return {'skipped': NO_API_TARGET}
        return {
            'target_profiles': sorted({f.target_profile
                                       for f in self.followups}),
            'location': self.api.backend.location(),
            'tables': {n: {'archived': c, 'deleted': c}
                       for n, c in sorted(self.api_counts.items())},
            'checksums': {n: h.hexdigest()
                          for n, h in sorted(self.api_digests.items())},
        }


def archive(engine, graph, backend, params, journal, progress=None, api=None,
            sleep=None, now=None):
    """Archive the soft-deleted rows ``params`` choose; return the result.

    :param engine: the target's engine (the caller owns it).
    :param graph: schema.reflect() of the target.
    :param backend: an ArchiveBackend.
    :param params: params.Params.
    :param journal: a journal.Journal; batches an earlier attempt left
        prepared are settled first.
    :param progress: ``progress(tables, **extra)`` with per-table
        ``planned``, ``archived`` and ``deleted`` of this attempt, after
        each batch; it may raise to stop (between batches only).
    :param api: ``(api_engine, api_graph, api_backend)`` of the nova API
        database, for the nova profile's follow-ups.
    :param sleep: ``sleep(seconds) -> True when interrupted``; used for
        retries, the rate limit, the pause and the window.
    :param now: naive UTC time the cutoff counts back from.
    :returns: {"tables", "totals", "batches", "location", "checksums",
        "followups", "left", "outcome", "reason"?}; ``checksums`` chain
        the per-batch SHA-256 of each table in batch order.
    """
    return Archiver(engine, graph, backend, params, journal,
                    progress=progress, api=api, sleep=sleep, now=now).run()
