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

"""The reflected schema of a target as a graph of parents and dependents."""

import collections
import datetime

import sqlalchemy as sa

from cryptkeeper.purge import errors
from cryptkeeper.purge import profiles as purge_profiles
from cryptkeeper.purge.profiles import base

Edge = base.Edge

# How a child row of an edge is treated when its parent row goes.
TAKE_ALL = 'all'          # owned: whatever the child's own flag says
TAKE_DELETED = 'deleted'  # only when soft-deleted itself; live ones block
TAKE_NONE = 'none'        # never archived: any such row blocks the parent


def reflect(conn_or_engine, profile):
    """Reflect every table the profile may touch; return a :class:`Graph`.

    Edges are the reflected foreign keys plus the profile's relations
    whose tables and columns exist. Shadow tables and the migration
    tools' tables are not reflected.
    """
    profile = purge_profiles.get(profile)
    inspector = sa.inspect(conn_or_engine)
    names = [n for n in inspector.get_table_names()
             if not profile.is_excluded(n)]
    meta = sa.MetaData()
    # resolve_fks=False: a key to an excluded table must not pull it in.
    meta.reflect(conn_or_engine, only=names, resolve_fks=False)
    tables = {name: meta.tables[name] for name in names}
    return Graph(profile, tables, _edges(profile, tables))


def _edges(profile, tables):
    found = {}
    for name in sorted(tables):
        table = tables[name]
        for fkc in sorted(table.foreign_key_constraints,
                          key=lambda c: tuple(c.column_keys)):
            parent = None
            parent_cols = []
            for element in fkc.elements:
                ref_table, _, ref_col = element.target_fullname.rpartition(
                    '.')
                parent = ref_table.rpartition('.')[2]
                parent_cols.append(ref_col)
            if parent not in tables:
                continue
            edge = Edge(parent, tuple(parent_cols), name,
                        tuple(fkc.column_keys), 'fk')
            if _columns_exist(tables, edge):
                found[edge.key] = edge
    for edge in profile.dependents:
        # A relation of another release of the service: not used when its
        # tables or columns are not in this database.
        if _columns_exist(tables, edge):
            found[edge.key] = edge
    return [found[k] for k in sorted(found)]


def _columns_exist(tables, edge):
    parent = tables.get(edge.parent)
    child = tables.get(edge.child)
    return (parent is not None and child is not None and
            all(c in parent.c for c in edge.parent_cols) and
            all(c in child.c for c in edge.child_cols))


class Graph:
    """Tables of a target and how their rows depend on each other.

    :ivar tables: {name: sa.Table} reflected (excluded tables left out).
    :ivar edges: [Edge] foreign keys and profile relations.
    """

    def __init__(self, profile, tables, edges):
        self.profile = purge_profiles.get(profile)
        self.tables = dict(tables)
        self.edges = list(edges)
        self._children = collections.defaultdict(list)
        self._parents = collections.defaultdict(list)
        for edge in self.edges:
            self._children[edge.parent].append(edge)
            self._parents[edge.child].append(edge)
        self._soft = {}
        self._age = {}
        for name, table in self.tables.items():
            self._soft[name] = self.profile.soft_delete(name, table.columns)
            self._age[name] = self.profile.age_column(name, table.columns)

    # -- facts per table -----------------------------------------------------

    def soft_delete(self, name):
        """The table's census.SoftDelete, or None."""
        return self._soft.get(name)

    def age_column(self, name):
        """Column the age of a row is measured by, or None."""
        soft = self._soft.get(name)
        if soft is not None and soft.age_column is not None:
            return soft.age_column
        return self._age.get(name)

    def pk(self, name):
        """Primary-key column names, in constraint order."""
        return [c.name for c in self.tables[name].primary_key.columns]

    def children(self, name):
        return list(self._children.get(name, ()))

    def parents(self, name):
        return list(self._parents.get(name, ()))

    def archivable(self, name):
        """Whether rows of ``name`` can be archived (a key to find them)."""
        return name in self.tables and bool(self.pk(name))

    def takes(self, edge):
        """TAKE_ALL, TAKE_DELETED or TAKE_NONE for the child rows of edge."""
        if not self.archivable(edge.child):
            return TAKE_NONE
        if edge.owned:
            return TAKE_ALL
        if self._soft.get(edge.child) is not None:
            return TAKE_DELETED
        return TAKE_NONE

    def is_deleted(self, name, row):
        """Whether a fetched row (a mapping) is soft-deleted."""
        soft = self._soft.get(name)
        if soft is None:
            return False
        value = row[soft.column]
        if soft.kind == 'integer':
            return value is not None and value != 0
        if soft.kind == 'boolean':
            return bool(value)
        return value is not None

    def deleted_clause(self, name, table):
        """SQL: a row of ``table`` (``name`` or its alias) is deleted."""
        soft = self._soft.get(name)
        if soft is None:
            return sa.false()
        return soft.condition(table)

    # -- roots and order ------------------------------------------------------

    def candidates(self):
        """Tables whose rows can be chosen by flag and age (any opt-in)."""
        return sorted(n for n in self.tables
                      if self._soft.get(n) is not None and self.archivable(n))

    def roots(self, tables=None):
        """Tables whose soft-deleted rows start a batch, parents first.

        :param tables: the job's ``tables``; None for every table that is
            not opt-in.
        :raises: errors.UnknownTable, errors.InvalidParams
        """
        candidates = set(self.candidates())
        if tables:
            chosen = []
            for name in tables:
                if self.profile.is_excluded(name):
                    raise errors.InvalidParams(
                        'Table %s is never purged (shadow tables and the '
                        'migration tools\' tables are left alone).' % name)
                if name not in self.tables:
                    raise errors.UnknownTable(
                        'Table %s is not in the target\'s schema.' % name)
                if name not in candidates:
                    raise errors.InvalidParams(
                        'Table %s has no soft-delete column (or no primary '
                        'key); its rows are archived with the rows they '
                        'belong to, not on their own.' % name)
                chosen.append(name)
        else:
            chosen = [n for n in candidates if n not in self.profile.opt_in]
        return self._parents_first(chosen)

    def _take_edges(self):
        return [e for e in self.edges
                if e.parent != e.child and self.takes(e) != TAKE_NONE]

    def _parents_first(self, names):
        names = set(names)
        deps = {n: set() for n in names}
        for edge in self._take_edges():
            if edge.parent in names and edge.child in names:
                deps[edge.child].add(edge.parent)
        order = []
        done = set()
        # Kahn's algorithm, ties by name; a cycle is broken by name too,
        # since only deletes need a strict order (see delete_order).
        while len(order) < len(names):
            ready = sorted(n for n in names - done if not deps[n] - done)
            if not ready:
                ready = [sorted(names - done)[0]]
            for name in ready:
                order.append(name)
                done.add(name)
        return order

    def reachable(self, roots):
        """Tables whose rows can be archived in a batch of ``roots``."""
        seen = set()
        todo = [r for r in roots if self.archivable(r)]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for edge in self.children(name):
                if self.takes(edge) != TAKE_NONE:
                    todo.append(edge.child)
        return seen

    def delete_order(self, names):
        """``names`` ordered children first.

        A table that references itself is fine (its rows go in one
        statement); two tables that reference each other cannot be
        ordered.

        :raises: errors.PurgeError naming the tables of the cycle.
        """
        names = set(names)
        deps = {n: set() for n in names}
        for edge in self.edges:
            if (edge.parent != edge.child and edge.parent in names and
                    edge.child in names):
                # A parent goes after its children.
                deps[edge.parent].add(edge.child)
        order = []
        done = set()
        while len(order) < len(names):
            ready = sorted(n for n in names - done if not deps[n] - done)
            if not ready:
                stuck = sorted(names - done)
                raise errors.PurgeError(
                    'Tables %s reference each other in a cycle of foreign '
                    'keys; rows of them cannot be deleted in a safe order. '
                    'Leave them out with the tables parameter.'
                    % ', '.join(stuck))
            for name in ready:
                order.append(name)
                done.add(name)
        return order

    def parents_order(self, names):
        """``names`` ordered parents first (restore)."""
        return list(reversed(self.delete_order(names)))

    # -- selection ------------------------------------------------------------

    def cutoff_for(self, name, cutoff, now):
        """The cutoff of ``name``; opt-in tables keep their retention."""
        days = self.profile.opt_in.get(name)
        if days is None:
            return cutoff
        return min(cutoff, now - datetime.timedelta(days=days))

    def root_clause(self, name, table, cutoff, now, project_id=None):
        """SQL: a row of ``table`` (``name`` or its alias) may start a batch.

        Soft-deleted, older than the cutoff (strictly), and in the
        project when one is given. A row with no age is taken only when
        the cutoff is ``now`` (everything deleted so far): no other
        cutoff can be judged for it.

        :returns: the clause, or None when no row of the table can be
            chosen (no project_id column under a project scope).
        """
        soft = self._soft.get(name)
        if soft is None:
            return None
        clauses = [soft.condition(table)]
        cutoff = self.cutoff_for(name, cutoff, now)
        age = self.age_column(name)
        if age is not None:
            older = table.c[age] < sa.literal(cutoff, sa.DateTime())
            if cutoff >= now:
                older = sa.or_(older, table.c[age].is_(None))
            clauses.append(older)
        elif cutoff < now:
            return None
        if project_id is not None:
            if 'project_id' not in table.c:
                return None
            clauses.append(table.c.project_id == project_id)
        return sa.and_(*clauses)

    def followups(self, name):
        """The profile's follow-ups of rows of ``name``."""
        return [f for f in self.profile.followups
                if f.parent_table == name and name in self.tables and
                f.parent_column in self.tables[name].c]
