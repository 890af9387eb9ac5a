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

"""Nova-compatible ``shadow_<table>`` tables in the target database itself.

Nova's ``db sync`` creates shadow tables for its own schema, and
``nova-manage db purge`` reads them; for any table that has none (newer
Nova tables, other services) one is created from the reflected source
table: same columns and types, the same primary key, nothing else (no
foreign keys, no unique constraints, no sequences). Copy, check and
delete share the source transaction, so a batch is archived and deleted
or neither, and the copy never leaves the database server.
"""

import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql

from cryptkeeper.purge import backends
from cryptkeeper.purge.backends import base
from cryptkeeper.purge import errors
from cryptkeeper.purge import rows as purge_rows

PREFIX = 'shadow_'
# Keys per IN list.
CHUNK = 1000


def shadow_name(name):
    return PREFIX + name


def _category(col_type):
    """A coarse kind of a type: what may not differ between the copies."""
    if isinstance(col_type, (sa.Integer, sa.Boolean)):
        # MySQL reflects BOOLEAN as TINYINT(1).
        return 'integer'
    if isinstance(col_type, (sa.Numeric, sa.Float)):
        return 'number'
    if isinstance(col_type, (sa.DateTime, sa.Date, sa.Time)):
        return 'time'
    if isinstance(col_type, (sa.LargeBinary, sa.types._Binary)):
        return 'binary'
    if isinstance(col_type, (sa.String, sa.Text, sa.Enum)):
        return 'text'
    if isinstance(col_type, sa.JSON):
        return 'json'
    return type(col_type).__name__


def _length(col_type):
    if isinstance(col_type, sa.Enum) or not isinstance(col_type, sa.String):
        return None
    return col_type.length


def _copy_type(col_type):
    if isinstance(col_type, postgresql.ENUM):
        # The source's enum type already exists; the shadow column shares
        # it rather than creating a second type of the same name.
        return postgresql.ENUM(*col_type.enums, name=col_type.name,
                               schema=col_type.schema, create_type=False)
    return col_type


def _decode(col_type, value):
    if isinstance(value, str):
        if isinstance(col_type, sa.DateTime):
            return datetime.datetime.fromisoformat(value)
        if isinstance(col_type, sa.Date):
            return datetime.date.fromisoformat(value)
    return value


class ShadowBackend(base.ArchiveBackend):
    """``shadow_<table>`` in the source database.

    :param engine: the target's engine (the caller owns it). Other
        options of :func:`backends.get` are ignored.
    """

    kind = 'shadow'
    atomic_with_source = True

    def __init__(self, engine=None, **options):
        if engine is None:
            raise errors.PurgeError(
                'The shadow archive backend needs the target database.')
        self.engine = engine
        self.graph = None
        self._shadow = {}
        self._pk = {}

    # -- tables ---------------------------------------------------------------

    def prepare(self, graph, tables):
        """Find, or create from the source, ``shadow_<t>`` of each table.

        :raises: errors.SchemaMismatch when an existing shadow table's
            columns differ from its source table's.
        """
        self.graph = graph
        tables = [backends.name_of(t) for t in tables]
        with self.engine.begin() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            meta = sa.MetaData()
            wanted = [shadow_name(n) for n in tables
                      if shadow_name(n) in existing]
            if wanted:
                meta.reflect(conn, only=wanted, resolve_fks=False)
            for name in tables:
                source = graph.tables[name]
                shadow = meta.tables.get(shadow_name(name))
                if shadow is None:
                    shadow = self._create(conn, meta, source)
                else:
                    check_columns(source, shadow)
                self._shadow[name] = shadow
                self._pk[name] = graph.pk(name)

    @staticmethod
    def _create(conn, meta, source):
        columns = [sa.Column(c.name, _copy_type(c.type), nullable=c.nullable,
                             primary_key=c.primary_key, autoincrement=False)
                   for c in source.columns]
        shadow = sa.Table(shadow_name(source.name), meta, *columns)
        shadow.create(conn)
        return shadow

    def _table(self, name, conn=None):
        """The shadow table of ``name``, reflected on first use; or None."""
        if name in self._shadow:
            return self._shadow[name]
        bind = conn if conn is not None else self.engine
        try:
            shadow = sa.Table(shadow_name(name), sa.MetaData(),
                              autoload_with=bind, resolve_fks=False)
        except sa.exc.NoSuchTableError:
            return None
        self._shadow[name] = shadow
        if self.graph is not None and name in self.graph.tables:
            self._pk[name] = self.graph.pk(name)
        else:
            self._pk[name] = [c.name for c in shadow.primary_key.columns]
        return shadow

    def _key_clause(self, name, shadow, keys):
        pk = self._pk[name]
        if not pk:
            raise errors.PurgeError(
                'shadow_%s has no primary key and the source table is not '
                'known; its rows cannot be found by key.' % name)
        columns = [shadow.c[c] for c in pk]
        keys = [[_decode(col.type, v)
                 for col, v in zip(columns, key, strict=True)]
                for key in keys]
        return backends.keys_clause(columns, keys)

    # -- a batch --------------------------------------------------------------

    def write(self, conn, table, rows, batch):
        """Copy ``rows`` into the shadow table, inside the database.

        ``rows`` are rows of ``table`` read in the batch's source
        transaction ``conn``: they are copied by key with one
        ``INSERT INTO shadow_t (...) SELECT ... FROM t WHERE key IN (...)``
        per chunk, so no value travels through the client twice. On
        PostgreSQL an enum column goes through text to the shadow
        column's own enum type; Nova's INSERT ... SELECT fails there
        because two enum types do not cast into each other.
        """
        name = backends.name_of(table)
        if conn is None:
            raise errors.PurgeError(
                'The shadow backend writes in the source transaction.')
        shadow = self._table(name, conn)
        if shadow is None:
            raise errors.PurgeError(
                'shadow_%s does not exist; prepare() creates it.' % name)
        rows = list(rows)
        pk = self._source_pk(name, table)
        copied = 0
        keys = [[r[c] for c in pk] for r in rows]
        for chunk in backends.chunks(keys, CHUNK):
            try:
                copied += conn.execute(self._copy(conn, table, shadow, pk,
                                                  chunk)).rowcount
            except sa.exc.IntegrityError as exc:
                raise self._duplicates(name, chunk) from exc
        # The copy never passes through here: its checksum is that of the
        # source rows it copies (verify() compares the two, column by
        # column); the executor hands it over in the batch.
        sha = batch.checksums.get(name) if batch is not None else None
        if sha is None:
            sha = purge_rows.digest(rows, pk)[1]
        return {'rows': copied, 'sha256': sha,
                'location': shadow_name(name)}

    def _duplicates(self, name, keys):
        """The error for keys the shadow table holds already.

        After a MySQL restart InnoDB may hand out ids again that rows
        archived earlier had; such a row cannot be archived beside its
        namesake, and retrying will not help.
        """
        with self.engine.connect() as conn:
            shadow = self._table(name, conn)
            found = []
            for chunk in backends.chunks(keys, CHUNK):
                found.extend(list(r) for r in conn.execute(
                    sa.select(*[shadow.c[c] for c in self._pk[name]])
                    .where(self._key_clause(name, shadow, chunk))))
            conn.rollback()
        shown = ', '.join(str(k) for k in found[:20])
        if len(found) > 20:
            shown += ' and %d more' % (len(found) - 20)
        return errors.PurgeError(
            'shadow_%s already holds rows with the keys %s, archived '
            'earlier (the source reused those ids). Purge those archived '
            'copies (mode purge) or move them away, then run the job '
            'again.' % (name, shown or '(unknown)'))

    def _source_pk(self, name, table):
        if name not in self._pk or not self._pk[name]:
            self._pk[name] = [c.name for c in table.primary_key.columns]
        return self._pk[name]

    @staticmethod
    def _value(conn, source_col, shadow_col):
        """The source column as the shadow column takes it."""
        if (conn.dialect.name == 'postgresql' and
                isinstance(shadow_col.type, sa.Enum)):
            return sa.cast(sa.cast(source_col, sa.Text()), shadow_col.type)
        return source_col

    def _copy(self, conn, table, shadow, pk, keys):
        names = [c.name for c in table.columns]
        values = [self._value(conn, table.c[n], shadow.c[n]) for n in names]
        columns = [table.c[c] for c in pk]
        where = backends.keys_clause(columns, keys)
        return shadow.insert().from_select(
            names, sa.select(*values).where(where))

    @staticmethod
    def _comparable(conn, col):
        dialect = conn.dialect.name
        # PostgreSQL compares neither two enum types nor json values;
        # their text is what must be equal.
        if dialect == 'postgresql' and isinstance(col.type,
                                                  (sa.Enum, sa.JSON)):
            return sa.cast(col, sa.Text())
        # MySQL compares text through its collation ('A' = 'a', trailing
        # spaces ignored); a copy must be the same bytes.
        if dialect == 'mysql' and isinstance(col.type, (sa.String,
                                                        sa.Text)):
            return sa.cast(col, mysql.BINARY())
        return col

    def _rows(self, conn, name, keys):
        shadow = self._table(name, conn)
        if shadow is None:
            return
        for chunk in backends.chunks(keys, CHUNK):
            result = conn.execute(sa.select(shadow).where(
                self._key_clause(name, shadow, chunk)))
            for row in result.mappings():
                yield dict(row)

    def verify(self, conn, table, keys, expected):
        """Check the shadow table holds exactly the source rows of keys.

        In the batch's transaction the source rows are still there, as
        the batch read them (its snapshot): the shadow rows of these keys
        must number ``expected["rows"]`` and each must equal, column by
        column (NULL equal to NULL), the source row of the same key. The
        source rows are the ones whose checksum ``expected["sha256"]``
        is, so the copies are too.
        """
        name = backends.name_of(table)
        if conn is None:
            raise errors.PurgeError(
                'The shadow backend verifies in the source transaction.')
        shadow = self._table(name, conn)
        pk = self._source_pk(name, table)
        held = equal = 0
        same = sa.and_(*[self._comparable(conn, shadow.c[c.name])
                         .is_not_distinct_from(self._comparable(conn, c))
                         for c in table.columns])
        join = sa.and_(*[shadow.c[c] == table.c[c] for c in pk])
        # One pass: every shadow row of the keys, and those equal to
        # their source row.
        stmt = sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((same, 1), else_=0))).select_from(
                shadow.outerjoin(table, join))
        for chunk in backends.chunks(keys, CHUNK):
            row = conn.execute(stmt.where(
                self._key_clause(name, shadow, chunk))).one()
            held += int(row[0] or 0)
            equal += int(row[1] or 0)
        if held != expected['rows'] or equal != expected['rows']:
            extra = ''
            if held > expected['rows']:
                extra = (' shadow_%s already held rows with some of these '
                         'keys (archived before and the ids were reused); '
                         'purge those archived copies first.' % name)
            raise errors.VerificationFailed(
                'shadow_%s holds %d rows for the %d keys of this batch, %d '
                'of them equal to the source rows (checksum %s).%s'
                % (name, held, expected['rows'], equal,
                   expected['sha256'], extra))

    def flush(self, batch):
        """Nothing to do: the source transaction's commit is the flush."""

    # -- resume, restore, retention -------------------------------------------

    def contains(self, table, keys, conn=None):
        name = backends.name_of(table)
        if conn is None:
            with self.engine.connect() as own:
                try:
                    return self._count(own, name, keys)
                finally:
                    own.rollback()
        return self._count(conn, name, keys)

    def _count(self, conn, name, keys):
        shadow = self._table(name, conn)
        if shadow is None:
            return 0
        n = 0
        for chunk in backends.chunks(keys, CHUNK):
            n += int(conn.execute(sa.select(sa.func.count()).select_from(
                shadow).where(self._key_clause(name, shadow, chunk)))
                .scalar() or 0)
        return n

    def read(self, table, keys, conn=None):
        """Yield the archived rows of ``keys`` (dicts, shadow columns)."""
        name = backends.name_of(table)
        if conn is not None:
            yield from self._rows(conn, name, keys)
            return
        with self.engine.connect() as own:
            try:
                yield from self._rows(own, name, keys)
            finally:
                own.rollback()

    def remove(self, table, keys, conn=None):
        """Delete the archived copies of ``keys``; return how many.

        ``conn`` lets a restore do it in the source transaction that puts
        the rows back.
        """
        name = backends.name_of(table)
        if conn is None:
            with self.engine.begin() as own:
                return self._remove(own, name, keys)
        return self._remove(conn, name, keys)

    def _remove(self, conn, name, keys):
        shadow = self._table(name, conn)
        if shadow is None:
            return 0
        n = 0
        for chunk in backends.chunks(keys, CHUNK):
            n += conn.execute(shadow.delete().where(
                self._key_clause(name, shadow, chunk))).rowcount
        return n

    def age_expression(self, name, shadow):
        """The age of an archived row, as an SQL expression (or None).

        The profile's age column, then deleted_at, updated_at, created_at:
        the first that is set.
        """
        names = []
        if self.graph is not None and name in self.graph.tables:
            age = self.graph.age_column(name)
            if age:
                names.append(age)
        names += [n for n in backends.FALLBACK_AGE_COLUMNS if n not in names]
        columns = [shadow.c[n] for n in names if n in shadow.c and
                   isinstance(shadow.c[n].type, (sa.DateTime, sa.Date))]
        if not columns:
            return None
        return columns[0] if len(columns) == 1 else sa.func.coalesce(
            *columns)

    def expire(self, table, older_than, limit):
        """Delete up to ``limit`` archived rows older than ``older_than``.

        One short transaction: the oldest-keyed candidates are chosen by
        key, then deleted by key.
        """
        name = backends.name_of(table)
        with self.engine.begin() as conn:
            shadow = self._table(name, conn)
            if shadow is None:
                return 0
            age = self.age_expression(name, shadow)
            pk = self._pk[name]
            if age is None or not pk:
                return 0
            columns = [shadow.c[c] for c in pk]
            keys = [list(r) for r in conn.execute(
                sa.select(*columns).where(
                    age < sa.literal(older_than, sa.DateTime()))
                .order_by(*columns).limit(int(limit)))]
            if not keys:
                return 0
            return self._remove(conn, name, keys)

    def location(self):
        return {'kind': 'shadow', 'tables': 'shadow_<table> in the target'}

    def close(self):
        """The engine is the caller's."""


def check_columns(source, shadow):
    """Raise SchemaMismatch unless ``shadow`` can hold ``source``'s rows.

    Column names must be the same both ways; a column's kind of type
    (integer, text, time, ...) must agree, and a shadow text column must
    not be shorter than the source's.
    """
    problems = []
    missing = [c.name for c in source.columns if c.name not in shadow.c]
    extra = [c.name for c in shadow.columns if c.name not in source.c]
    if missing:
        problems.append('missing column(s) %s' % ', '.join(missing))
    if extra:
        problems.append('column(s) %s not in the source' % ', '.join(extra))
    for col in source.columns:
        if col.name not in shadow.c:
            continue
        other = shadow.c[col.name].type
        if _category(col.type) != _category(other):
            problems.append('%s is %s in the source but %s in the shadow '
                            'table' % (col.name, _category(col.type),
                                       _category(other)))
            continue
        mine, theirs = _length(col.type), _length(other)
        if mine and theirs and theirs < mine:
            problems.append('%s holds %d characters in the source but %d '
                            'in the shadow table' % (col.name, mine, theirs))
    if problems:
        raise errors.SchemaMismatch(
            '%s does not match %s: %s. Bring the shadow table up to date '
            '(nova-manage db sync does for Nova) or archive elsewhere.'
            % (shadow.name, source.name, '; '.join(problems)))
