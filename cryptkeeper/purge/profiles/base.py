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

"""What a profile knows about a service's schema that foreign keys do not.

A profile names relations and columns only; the tables themselves always
come from reflecting the live database, and a relation whose tables or
columns are not there is simply not used.
"""

import dataclasses

import sqlalchemy as sa

from cryptkeeper.purge import census

SHADOW_PREFIX = 'shadow_'
# Bookkeeping of the schema migration tools: never data.
ALWAYS_EXCLUDED = frozenset(('migrate_version', 'alembic_version'))


@dataclasses.dataclass(frozen=True)
class Edge:
    """A relation from the rows of ``parent`` to those of ``child``.

    Rows of ``child`` whose ``child_cols`` equal a ``parent`` row's
    ``parent_cols`` belong to (or at least reference) that parent row.

    ``source`` is ``fk`` for a foreign key found by reflection and
    ``profile`` for a relation the profile declares. A profile edge means
    ownership: the child rows go with their parent whatever their own
    soft-delete flag says (nova never soft-deletes ``instance_actions``).
    A foreign key alone takes only child rows that are soft-deleted
    themselves; a live child keeps its parent in place.
    """

    parent: str
    parent_cols: tuple
    child: str
    child_cols: tuple
    source: str = 'fk'

    def __post_init__(self):
        object.__setattr__(self, 'parent_cols', tuple(self.parent_cols))
        object.__setattr__(self, 'child_cols', tuple(self.child_cols))

    @property
    def owned(self):
        return self.source == 'profile'

    @property
    def key(self):
        return (self.parent, self.parent_cols, self.child, self.child_cols)

    def __str__(self):
        return '%s(%s) -> %s(%s)' % (self.child, ', '.join(self.child_cols),
                                     self.parent,
                                     ', '.join(self.parent_cols))


def relation(parent, parent_col, child, child_col):
    """A profile edge on one column each side."""
    return Edge(parent, (parent_col,), child, (child_col,), 'profile')


@dataclasses.dataclass(frozen=True)
class FollowUp:
    """Rows of another target that belong to archived rows of this one.

    When rows of ``parent_table`` are archived, the rows of each
    ``(table, column)`` of the ``target_profile`` target whose ``column``
    equals the archived rows' ``parent_column`` are archived too.
    """

    parent_table: str
    parent_column: str
    target_profile: str
    tables: tuple = ()


class AgeOnly(census.SoftDelete):
    """A table whose rows are never flagged, chosen by age alone.

    Every row is a candidate once its age column is old enough (nova's
    ``task_log``).
    """

    def __init__(self, column):
        super().__init__('age', column, column)

    def condition(self, table):
        return table.c[self.column].isnot(None)


def column_types(columns):
    """{name: type} of reflected columns: inspector dicts or sa.Columns."""
    types = {}
    for col in columns:
        if isinstance(col, dict):
            types[col['name']] = col['type']
        else:
            types[col.name] = col.type
    return types


def _is_datetime(col_type):
    return isinstance(col_type, (sa.DateTime, sa.Date))


class Profile:
    """Schema facts of one service; subclasses override the class data.

    :ivar excluded: table names never touched (``shadow_*`` tables are
        always excluded too, see :meth:`is_excluded`).
    :ivar opt_in: {table: default retention days}: archived only when the
        job names the table, and never younger than the retention.
    :ivar dependents: profile edges (ownership, see :class:`Edge`).
    :ivar followups: rows in another target to archive along.
    :ivar age_columns: {table: column} where the age of a row is not its
        ``deleted_at``.
    :ivar age_only: tables whose every row is a candidate by age alone.
    """

    name = 'generic'
    excluded = ALWAYS_EXCLUDED
    opt_in = {}
    dependents = ()
    followups = ()
    age_columns = {}
    age_only = frozenset()

    def is_excluded(self, table_name):
        return (table_name.startswith(SHADOW_PREFIX) or
                table_name in self.excluded)

    def age_column(self, table_name, columns):
        """The column a row's age is measured by, or None."""
        types = column_types(columns)
        override = self.age_columns.get(table_name)
        if override is not None and _is_datetime(types.get(override)):
            return override
        if _is_datetime(types.get('deleted_at')):
            return 'deleted_at'
        return None

    def soft_delete(self, table_name, columns):
        """How ``table_name`` marks its deleted rows, or None."""
        if self.is_excluded(table_name):
            return None
        if table_name in self.age_only:
            age = self.age_column(table_name, columns)
            return AgeOnly(age) if age is not None else None
        found = census.classify(
            [{'name': n, 'type': t}
             for n, t in column_types(columns).items()], self.name)
        if found is not None:
            found.age_column = self.age_column(table_name, columns)
        return found

    def __repr__(self):
        return '<Profile %s>' % self.name
