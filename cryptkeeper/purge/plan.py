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

"""Plan mode: what an archive would move, counted without writing a byte.

Every count is one set-based SELECT per table (EXISTS over the graph's
edges), in a read-only transaction that is rolled back; the database
itself refuses a write (see census._begin_read_only).
"""

import datetime
import math
import operator
import time

from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.purge import census
from cryptkeeper.purge import profiles as purge_profiles
from cryptkeeper.purge import schema


def _join(edge, parent, child):
    return sa.and_(*[child.c[c] == parent.c[p]
                     for p, c in zip(edge.parent_cols, edge.child_cols,
                                     strict=True)])


# Bounds of one statement: nested EXISTS overflow SQLite's parser (from
# about 20 parentheses deep), and graphs with many paths (cinder) grow
# predicates without end. Past them the plan counts by walking the batches
# instead (simulate()). Nova's deepest count statement nests 10 deep with
# 10 EXISTS.
MAX_DEPTH = 8
MAX_NODES = 100
MAX_NESTING = 14


def _exists(table, *where):
    return sa.select(sa.literal(1)).select_from(table).where(
        *where).exists()


class TooComplex(Exception):
    """The schema's paths make a predicate too large to send."""


class Rules:
    """SQL predicates of the rows an archive takes, as its batches do.

    A row is taken when it may start a batch (a root: soft-deleted, old
    enough, in scope) and nothing in its tree is blocked, or when its
    parent through an edge is taken and the edge takes it (owned, or a
    foreign key and the row is soft-deleted). A row is blocked when a row
    that will not go references it or anything of its tree.

    Building a predicate raises TooComplex past MAX_DEPTH or MAX_NODES.
    """

    def __init__(self, graph, roots, cutoff, now, project_id=None):
        self.graph = graph
        self.roots = list(roots)
        self.cutoff = cutoff
        self.now = now
        self.project_id = project_id
        self.reach = graph.reachable(self.roots)
        self.nodes = 0

    def _exists(self, depth, table, *where):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise TooComplex()
        return sa.select(sa.literal(1)).select_from(table).where(
            *where).exists()

    def root(self, name, table):
        if name not in self.roots:
            return None
        return self.graph.root_clause(name, table, self.cutoff, self.now,
                                      self.project_id)

    def bad(self, name, table, path=frozenset(), depth=0):
        """Rows of ``table`` that live rows keep in place, or None."""
        if name in path:
            return None
        path = path | {name}
        graph = self.graph
        found = []
        for edge in graph.children(name):
            child = graph.tables[edge.child].alias()
            join = _join(edge, table, child)
            mode = graph.takes(edge)
            if mode == schema.TAKE_NONE:
                found.append(self._exists(depth + 1, child, join))
                continue
            sub = self.bad(edge.child, child, path, depth + 1)
            if mode == schema.TAKE_DELETED:
                deleted = graph.deleted_clause(edge.child, child)
                found.append(self._exists(depth + 1, child, join,
                                          sa.not_(deleted)))
                if sub is not None:
                    found.append(self._exists(depth + 1, child, join,
                                              deleted, sub))
            elif sub is not None:
                found.append(self._exists(depth + 1, child, join, sub))
        return sa.or_(*found) if found else None

    def as_root(self, name, table, depth=0):
        """Rows that start a batch of their own table, or None."""
        root = self.root(name, table)
        if root is None:
            return None
        bad = self.bad(name, table, depth=depth)
        return root if bad is None else sa.and_(root, sa.not_(bad))

    def via_parent(self, name, table, path=frozenset(), depth=0):
        """Rows taken along with a taken parent row, or None."""
        path = path | {name}
        graph = self.graph
        found = []
        for edge in graph.parents(name):
            mode = graph.takes(edge)
            if (mode == schema.TAKE_NONE or edge.parent not in self.reach or
                    edge.parent in path):
                continue
            parent = graph.tables[edge.parent].alias()
            taken = self.taken(edge.parent, parent, path, depth + 1)
            if taken is None:
                continue
            cond = self._exists(depth + 1, parent,
                                _join(edge, parent, table), taken)
            if mode == schema.TAKE_DELETED:
                cond = sa.and_(graph.deleted_clause(name, table), cond)
            found.append(cond)
        return sa.or_(*found) if found else None

    def taken(self, name, table, path=frozenset(), depth=0):
        """Rows an archive takes, or None when it takes none."""
        parts = [c for c in (self.as_root(name, table, depth),
                             self.via_parent(name, table, path, depth))
                 if c is not None]
        return sa.or_(*parts) if parts else None


def bucket_columns(age, now, where):
    """census.BUCKETS of ``age`` (a column or None) among ``where`` rows."""
    def count(*conds):
        return sa.func.sum(sa.case((sa.and_(where, *conds), 1), else_=0))

    columns = []
    if age is None:
        for name, _ in census.BUCKETS:
            columns.append(sa.literal(0).label(name))
        columns.append(count().label(census.UNKNOWN_AGE))
        return columns
    bounds = [sa.literal(now - datetime.timedelta(days=days), sa.DateTime())
              for _, days in census.BUCKETS]
    for i, (name, _) in enumerate(census.BUCKETS):
        conds = [age <= bounds[i]] if i else [age.isnot(None)]
        if i + 1 < len(census.BUCKETS):
            conds.append(age > bounds[i + 1])
        columns.append(count(*conds).label(name))
    columns.append(count(age.is_(None)).label(census.UNKNOWN_AGE))
    return columns


def _int(value):
    return int(value or 0)


def nesting(conn, stmt):
    """How deep the parentheses of ``stmt`` nest, as the target reads it."""
    depth = deepest = 0
    text = str(stmt.compile(conn))
    if text.count('EXISTS') > MAX_NODES:
        return float('inf')
    for char in text:
        if char == '(':
            depth += 1
            deepest = max(deepest, depth)
        elif char == ')':
            depth -= 1
    return deepest


def count_statement(rules, name):
    """The one SELECT that counts a table's planned rows, or None.

    :raises: TooComplex
    """
    graph = rules.graph
    table = graph.tables[name]
    rules.nodes = 0
    taken = rules.taken(name, table)
    if taken is None:
        return None
    age_name = graph.age_column(name)
    age = table.c[age_name] if age_name else None
    columns = [sa.func.count().label('planned')]
    columns += bucket_columns(age, rules.now, sa.true())
    rules.nodes = 0
    as_root = rules.as_root(name, table)
    if as_root is not None:
        rules.nodes = 0
        via = rules.via_parent(name, table)
        own = as_root if via is None else sa.and_(as_root, sa.not_(via))
        columns.append(sa.func.sum(sa.case((own, 1), else_=0)).label(
            'as_root'))
    return sa.select(*columns).select_from(table).where(taken)


def count_table(conn, rules, name, batch_size, stmt=None):
    """Planned rows of one table, by age, and how many start batches."""
    entry = {'planned': 0, 'age_buckets': dict.fromkeys(
        census.BUCKET_NAMES, 0), 'as_root': 0, 'estimated_batches': 0}
    if stmt is None:
        stmt = count_statement(rules, name)
    if stmt is None:
        return entry
    row = conn.execute(stmt).mappings().one()
    entry['planned'] = _int(row['planned'])
    entry['age_buckets'] = {b: _int(row[b]) for b in census.BUCKET_NAMES}
    if 'as_root' in row:
        entry['as_root'] = _int(row['as_root'])
        entry['estimated_batches'] = int(
            math.ceil(entry['as_root'] / float(batch_size)))
    return entry


def _conflicts(conn, rules, name):
    """Root candidates that live rows keep in place, and by whom."""
    graph = rules.graph
    table = graph.tables[name]
    root = rules.root(name, table)
    rules.nodes = 0
    bad = rules.bad(name, table)
    if root is None or bad is None:
        return 0, {}
    blocked = _int(conn.execute(sa.select(sa.func.count()).select_from(
        table).where(root, bad)).scalar())
    by = {}
    if not blocked:
        return 0, by
    for edge in graph.children(name):
        mode = graph.takes(edge)
        if mode == schema.TAKE_ALL:
            continue
        child = graph.tables[edge.child]
        parent = table.alias()
        live = [_exists(parent, _join(edge, parent, child),
                        rules.root(name, parent))]
        if mode == schema.TAKE_DELETED:
            live.append(sa.not_(graph.deleted_clause(edge.child, child)))
        n = _int(conn.execute(sa.select(sa.func.count()).select_from(
            child).where(*live)).scalar())
        if n:
            by[edge.child] = by.get(edge.child, 0) + n
    return blocked, by


def _orphans(conn, graph, name):
    """Rows of ``name`` whose parent row through an edge is missing."""
    table = graph.tables[name]
    found = {}
    for edge in graph.parents(name):
        parent = graph.tables[edge.parent].alias()
        where = [table.c[c].isnot(None) for c in edge.child_cols]
        where.append(sa.not_(_exists(parent, _join(edge, parent, table))))
        n = _int(conn.execute(sa.select(sa.func.count()).select_from(
            table).where(*where)).scalar())
        if n:
            found[str(edge)] = n
    return found


def tables_in_scope(graph, params):
    """(roots, every table a batch may touch), parents first."""
    roots = graph.roots(params.tables)
    reach = graph.reachable(roots)
    return roots, graph.parents_order(reach)


def _empty_entry():
    return {'planned': 0, 'age_buckets': dict.fromkeys(census.BUCKET_NAMES,
                                                       0),
            'as_root': 0, 'estimated_batches': 0, 'fk_conflicts': 0,
            'blocked_by': {}}


def simulate(conn, graph, roots, names, params, cutoff, now):
    """Count by walking the batches an archive would make, reading keys.

    For schemas whose paths make the EXISTS predicates too large: the
    executor's own gather (one SELECT per edge per batch, key columns
    only) over every batch, nothing written. Rows already counted are
    remembered by key so that no row counts twice, as the archive would
    have moved them: memory grows with the rows planned, which is why
    this is only the fallback.
    """
    # Imported here: the executor imports this module.
    from cryptkeeper.purge import executor

    entries = {name: _empty_entry() for name in names}
    counted = {name: set() for name in names}
    bounds = [now - datetime.timedelta(days=days)
              for _, days in census.BUCKETS]
    for root in roots:
        table = graph.tables[root]
        pk = graph.pk(root)
        columns = [table.c[c] for c in pk]
        where = graph.root_clause(root, table, cutoff, now,
                                  params.project_id)
        if where is None:
            continue
        order = graph.parents_order(graph.reachable([root]))
        stmt = (sa.select(*executor.key_columns(graph, root)).where(where)
                .order_by(*columns).limit(params.batch_size))
        marker = None
        while True:
            query = stmt
            if marker is not None:
                query = query.where(
                    columns[0] > marker[0] if len(columns) == 1
                    else sa.tuple_(*columns) > sa.tuple_(*marker))
            rows = [dict(r) for r in conn.execute(query).mappings()]
            if not rows:
                break
            marker = [rows[-1][c] for c in pk]
            rows = [r for r in rows
                    if tuple(r[c] for c in pk) not in counted[root]]
            if not rows:
                continue
            entry = entries[root]
            entry['estimated_batches'] += 1
            tree = executor.gather(conn, graph, root, rows, order,
                                   light=True)
            entry['fk_conflicts'] += len(tree.bad)
            for child, n in tree.blocked_by.items():
                entry['blocked_by'][child] = entry['blocked_by'].get(
                    child, 0) + n
            tree.prune()
            entry['as_root'] += len(tree.rows.get(root) or ())
            for name in tree.tables():
                age = graph.age_column(name)
                for key, row in tree.rows[name].items():
                    if key in counted[name]:
                        continue
                    counted[name].add(key)
                    entries[name]['planned'] += 1
                    bucket = _bucket(row.get(age) if age else None, bounds)
                    entries[name]['age_buckets'][bucket] += 1
    return entries


def _bucket(age, bounds):
    if age is None:
        return census.UNKNOWN_AGE
    name = census.BUCKETS[0][0]
    for (bucket, _), bound in zip(census.BUCKETS, bounds, strict=True):
        if age <= bound:
            name = bucket
    return name


def _statements(conn, rules, names):
    """{table: count statement}, or None when one is past the bounds."""
    statements = {}
    try:
        for name in names:
            stmt = count_statement(rules, name)
            if stmt is not None and nesting(conn, stmt) > MAX_NESTING:
                return None
            statements[name] = stmt
    except TooComplex:
        return None
    return statements


def counts(conn, graph, params, cutoff, now, on_table=None):
    """{table: entry} of what an archive takes; see plan().

    Set-based EXISTS counts, one query per table, when the schema's paths
    allow; else simulate().
    """
    roots, names = tables_in_scope(graph, params)
    rules = Rules(graph, roots, cutoff, now, params.project_id)
    statements = _statements(conn, rules, names)
    if statements is None:
        entries = simulate(conn, graph, roots, names, params, cutoff, now)
        for done, name in enumerate(names):
            if on_table is not None:
                on_table(done, len(names), name)
        return roots, names, entries, 'simulated'
    entries = {}
    for done, name in enumerate(names):
        if on_table is not None:
            on_table(done, len(names), name)
        entry = count_table(conn, rules, name, params.batch_size,
                            statements[name])
        entry['fk_conflicts'], entry['blocked_by'] = _conflicts(
            conn, rules, name)
        entries[name] = entry
    return roots, names, entries, 'set-based'


# planned_counts() counts a table in keyset chunks of its own key, each
# chunk one short transaction, sized so that a statement takes about
# COUNT_SECONDS: a read transaction held over a whole table would pin
# MVCC history (and purge lag) on a big target for as long as it runs.
COUNT_SECONDS = 0.25
COUNT_FIRST_CHUNK = 5000
COUNT_MIN_CHUNK = 500
COUNT_MAX_CHUNK = 1000000


def _next_chunk(size, elapsed):
    """Rows of the next chunk, from how long ``size`` rows took."""
    if elapsed <= 0:
        grown = size * 4
    else:
        grown = int(size * min(4.0, max(0.25, COUNT_SECONDS / elapsed)))
    return max(COUNT_MIN_CHUNK, min(COUNT_MAX_CHUNK, grown))


def _keyset(columns, marker, op):
    if len(columns) == 1:
        return op(columns[0], marker[0])
    return op(sa.tuple_(*columns), sa.tuple_(*marker))


def count_planned(conn, graph, name, taken, clock=time.monotonic):
    """Rows of ``name`` matching ``taken``, one short read per chunk.

    Each chunk (a range of the table's primary key) is counted in its own
    transaction, rolled back before the next; the chunk size adapts to
    how long the last one took.
    """
    table = graph.tables[name]
    pk = graph.pk(name)
    columns = [table.c[c] for c in pk]
    if not columns:
        try:
            return _int(conn.execute(sa.select(sa.func.count()).select_from(
                table).where(taken)).scalar())
        finally:
            conn.rollback()
    total = 0
    marker = None
    size = COUNT_FIRST_CHUNK
    while True:
        started = clock()
        try:
            bound = sa.select(*columns)
            where = [taken]
            if marker is not None:
                after = _keyset(columns, marker, operator.gt)
                bound = bound.where(after)
                where.append(after)
            upper = conn.execute(bound.order_by(*columns).offset(
                size - 1).limit(1)).first()
            if upper is not None:
                upper = tuple(upper)
                where.append(_keyset(columns, upper, operator.le))
            total += _int(conn.execute(sa.select(sa.func.count())
                                       .select_from(table)
                                       .where(*where)).scalar())
        finally:
            conn.rollback()
        if upper is None:
            return total
        marker = upper
        size = _next_chunk(size, clock() - started)


def planned_counts(conn, graph, params, cutoff, now):
    """{table: planned rows} with the executor's own rules (no checks).

    The same rows as plan()'s counts, but no read transaction spans more
    than one chunk of one table (see count_planned()); the simulated
    fallback walks batches as plan() does.
    """
    roots, names = tables_in_scope(graph, params)
    rules = Rules(graph, roots, cutoff, now, params.project_id)
    statements = _statements(conn, rules, names)
    if statements is None:
        try:
            entries = simulate(conn, graph, roots, names, params, cutoff,
                               now)
        finally:
            conn.rollback()
        return {name: entry['planned'] for name, entry in entries.items()}
    planned = {}
    for name in names:
        planned[name] = 0
        if statements[name] is None:
            continue
        rules.nodes = 0
        taken = rules.taken(name, graph.tables[name])
        planned[name] = count_planned(conn, graph, name, taken)
    return planned


def plan(engine, profile, params, statement_timeout=None, now=None,
         on_table=None):
    """Count what an archive with ``params`` would move, read-only.

    :param engine: the target's engine; the caller owns it.
    :param profile: a Profile or its name.
    :param params: a params.Params.
    :param on_table: called as ``on_table(done, total, name)`` before each
        table and once at the end with ``name=None``; it may raise to
        stop.
    :returns: {"tables": {name: {"planned", "age_buckets", "orphans",
        "fk_conflicts", "blocked_by", "as_root", "estimated_batches"}},
        "totals": {...}, "roots": [...], "cutoff", ...}
    """
    profile = purge_profiles.get(profile)
    now = now or params.now or timeutils.utcnow()
    cutoff = params.cutoff(now)
    with engine.connect() as conn:
        try:
            census._begin_read_only(conn, statement_timeout)
            graph = schema.reflect(conn, profile)
            roots, names, tables, method = counts(
                conn, graph, params, cutoff, now, on_table=on_table)
            for name in names:
                entry = tables[name]
                orphans = _orphans(conn, graph, name)
                entry['orphans'] = sum(orphans.values())
                entry['orphans_by_edge'] = orphans
                entry['root'] = name in roots
            if on_table is not None:
                on_table(len(names), len(names), None)
        finally:
            conn.rollback()
            # Read-only guards are session state: never back to the pool.
            conn.invalidate()
    return {
        'profile': profile.name,
        'mode': 'plan',
        'generated_at': now.isoformat(),
        'cutoff': cutoff.isoformat(),
        'method': method,
        'roots': roots,
        'tables': tables,
        'totals': _totals(tables),
        'followups': [
            {'target_profile': f.target_profile,
             'parent_table': f.parent_table,
             'tables': [t for t, _ in f.tables],
             'parent_rows': tables.get(f.parent_table, {}).get('planned', 0)}
            for root in roots for f in graph.followups(root)],
        'excluded_opt_in': sorted(t for t in profile.opt_in
                                  if t in graph.tables and t not in roots),
        'outcome': 'succeeded',
    }


def _totals(tables):
    totals = {'planned': 0, 'estimated_batches': 0, 'fk_conflicts': 0,
              'orphans': 0,
              'age_buckets': dict.fromkeys(census.BUCKET_NAMES, 0)}
    for entry in tables.values():
        for key in ('planned', 'estimated_batches', 'fk_conflicts',
                    'orphans'):
            totals[key] += entry[key]
        for name, n in entry['age_buckets'].items():
            totals['age_buckets'][name] += n
    return totals
