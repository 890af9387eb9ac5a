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

"""Census of a target: rows, soft-deleted rows by age, archived rows.

Archived rows are those in a table's nova-style ``shadow_<table>`` twin:
a census reports them beside the table, and does not count them as
soft-deleted rows of their own.
"""

import datetime

from oslo_utils import timeutils
import sqlalchemy as sa

# Age of a soft-deleted row, from its deleted_at, in days. A bucket holds
# ages from its lower bound (inclusive) to the next bound (exclusive).
BUCKETS = (('lt_30d', 0), ('30_90d', 30), ('90_365d', 90), ('gt_365d', 365))
UNKNOWN_AGE = 'unknown_age'
BUCKET_NAMES = tuple(name for name, _ in BUCKETS) + (UNKNOWN_AGE,)
SHADOW_PREFIX = 'shadow_'


class SoftDelete:
    """How a table marks its soft-deleted rows.

    ``kind`` is ``integer`` (deleted != 0; nova sets deleted = id),
    ``boolean`` (deleted is true) or ``deleted_at`` (no flag: a
    non-null deleted_at, as heat does).
    """

    def __init__(self, kind, column, age_column=None):
        self.kind = kind
        self.column = column
        self.age_column = age_column

    def condition(self, table):
        col = table.c[self.column]
        if self.kind == 'integer':
            return col != 0
        if self.kind == 'boolean':
            return col.is_(sa.true())
        return col.isnot(None)


def _is_datetime(col_type):
    return isinstance(col_type, (sa.DateTime, sa.Date))


def classify(columns, profile='generic'):
    """Return the SoftDelete of a table from its reflected columns, or None.

    Profiles (issue: purge) will override this per table; today every
    profile follows the generic oslo.db conventions.
    """
    types = {c['name']: c['type'] for c in columns}
    age = 'deleted_at' if _is_datetime(types.get('deleted_at')) else None
    deleted = types.get('deleted')
    if deleted is not None:
        # MySQL reflects BOOLEAN as TINYINT(1), an Integer: deleted != 0
        # is right for it as well as for nova's deleted = id.
        if isinstance(deleted, sa.Boolean):
            return SoftDelete('boolean', 'deleted', age)
        if isinstance(deleted, sa.Integer):
            return SoftDelete('integer', 'deleted', age)
        # A flag of another type has no convention we can trust.
        return None
    if age is not None:
        return SoftDelete('deleted_at', 'deleted_at', age)
    return None


def count_query(table, soft_delete, now):
    """One set-based SELECT of a table's totals and age buckets."""
    columns = [sa.func.count().label('rows')]
    if soft_delete is None:
        return sa.select(*columns).select_from(table)
    cond = soft_delete.condition(table)

    def flag(*conds):
        return sa.func.sum(sa.case((sa.and_(cond, *conds), 1), else_=0))

    columns.append(flag().label('soft_deleted'))
    if soft_delete.age_column is not None:
        age = table.c[soft_delete.age_column]
        bounds = [sa.literal(now - datetime.timedelta(days=days),
                             sa.DateTime()) for _, days in BUCKETS]
        for i, (name, _) in enumerate(BUCKETS):
            # Younger rows have later deleted_at: a bucket is the rows
            # deleted before its lower age bound and not before the next.
            conds = [age <= bounds[i]] if i else [age.isnot(None)]
            if i + 1 < len(BUCKETS):
                conds.append(age > bounds[i + 1])
            columns.append(flag(*conds).label(name))
        columns.append(flag(age.is_(None)).label(UNKNOWN_AGE))
    return sa.select(*columns).select_from(table)


def _begin_read_only(conn, statement_timeout):
    """Open a transaction in which the target refuses any write.

    Each backend gets its own guard: the database itself rejects DML and
    DDL, so a bug here cannot turn a census into a write.
    """
    dialect = conn.dialect.name
    if dialect == 'postgresql':
        conn.exec_driver_sql('SET TRANSACTION READ ONLY')
        if statement_timeout:
            conn.exec_driver_sql('SET LOCAL statement_timeout = %d'
                                 % (int(statement_timeout) * 1000))
    elif dialect == 'mysql':
        if statement_timeout:
            if getattr(conn.dialect, 'is_mariadb', False):
                conn.exec_driver_sql('SET SESSION max_statement_time = %d'
                                     % int(statement_timeout))
            else:
                conn.exec_driver_sql('SET SESSION max_execution_time = %d'
                                     % (int(statement_timeout) * 1000))
        conn.exec_driver_sql('START TRANSACTION READ ONLY')
    elif dialect == 'sqlite':
        # SQLite has no read-only transaction; query_only makes the
        # connection refuse writes, which is the same guarantee.
        conn.exec_driver_sql('PRAGMA query_only = 1')


def _as_int(value):
    # SUM over no rows is NULL; MySQL returns SUM as a Decimal.
    return int(value or 0)


def census(engine, target=None, profile='generic', statement_timeout=None,
           on_table=None, now=None):
    """Count rows, soft-deleted and archived rows of every table.

    Read only: reflection and one aggregate SELECT per table, in a
    read-only transaction that is rolled back. Table and column names
    come from reflection only. A table with a ``shadow_<table>`` twin
    reports the twin's row count as ``archived`` (None without a twin);
    the twin itself reports ``shadow_of`` and no soft-deleted rows.

    :param engine: SQLAlchemy engine of the target; the caller owns it.
    :param on_table: called as ``on_table(done, total, name)`` before each
        table and once at the end with ``name=None``; it may raise to
        stop the census.
    :param now: naive UTC time the ages are measured from.
    :returns: a JSON-serialisable dict.
    """
    now = now or timeutils.utcnow()
    tables = []
    with engine.connect() as conn:
        try:
            _begin_read_only(conn, statement_timeout)
            inspector = sa.inspect(conn)
            names = sorted(inspector.get_table_names())
            shadows = _shadow_twins(names)
            for done, name in enumerate(names):
                if on_table is not None:
                    on_table(done, len(names), name)
                tables.append(_count_table(conn, inspector, name, profile,
                                           now, shadows.get(name)))
            if on_table is not None:
                on_table(len(names), len(names), None)
        finally:
            conn.rollback()
            # The read-only guards are session state (query_only, the
            # statement time limit); never hand them back to the pool.
            conn.invalidate()
    _add_archived(tables)
    return {
        'target': target,
        'profile': profile,
        'generated_at': now.isoformat(),
        'tables': tables,
        'totals': _totals(tables),
    }


def _shadow_twins(names):
    """{shadow table: its source table} for the shadows whose source exists.

    A ``shadow_x`` without an ``x`` is an ordinary table.
    """
    present = set(names)
    return {name: name[len(SHADOW_PREFIX):] for name in names
            if name.startswith(SHADOW_PREFIX) and
            name[len(SHADOW_PREFIX):] in present}


def _add_archived(tables):
    # From the shadows' own counts: no query beyond one per table.
    archived = {entry['shadow_of']: entry['rows'] for entry in tables
                if entry['shadow_of'] is not None}
    for entry in tables:
        entry['archived'] = (None if entry['shadow_of'] is not None
                             else archived.get(entry['name']))


def _count_table(conn, inspector, name, profile, now, shadow_of=None):
    columns = inspector.get_columns(name)
    # Rows of a shadow table were archived, not soft-deleted: they keep
    # their deleted flag, but counting them again would hide the effect
    # of an archive.
    soft_delete = None if shadow_of else classify(columns, profile)
    table = sa.table(name, *[sa.column(c['name'], c['type'])
                             for c in columns])
    row = conn.execute(count_query(table, soft_delete, now)).mappings().one()
    entry = {'name': name, 'rows': _as_int(row['rows']),
             'soft_deleted': None, 'age_buckets': None,
             'soft_delete_column': None, 'shadow_of': shadow_of}
    if soft_delete is not None:
        entry['soft_deleted'] = _as_int(row['soft_deleted'])
        entry['soft_delete_column'] = soft_delete.column
        if soft_delete.age_column is not None:
            buckets = {b: _as_int(row[b]) for b in BUCKET_NAMES}
        else:
            # A flag but no deleted_at: every deleted row's age is unknown.
            buckets = dict.fromkeys(BUCKET_NAMES, 0)
            buckets[UNKNOWN_AGE] = entry['soft_deleted']
        entry['age_buckets'] = buckets
    return entry


def _totals(tables):
    buckets = dict.fromkeys(BUCKET_NAMES, 0)
    soft_deleted = 0
    with_soft_delete = 0
    for entry in tables:
        if entry['soft_deleted'] is None:
            continue
        with_soft_delete += 1
        soft_deleted += entry['soft_deleted']
        for name, value in entry['age_buckets'].items():
            buckets[name] += value
    return {'tables': len(tables),
            'tables_with_soft_delete': with_soft_delete,
            'rows': sum(entry['rows'] for entry in tables),
            'soft_deleted': soft_deleted,
            'archived': sum(entry['archived'] or 0 for entry in tables),
            'age_buckets': buckets}
