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

"""Archive backend: a separate database, reached by any SQLAlchemy URL."""

import contextlib
import hashlib
import os

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from cryptkeeper.purge import backends
from cryptkeeper.purge.backends import base
from cryptkeeper.purge import errors
from cryptkeeper.purge import rows as rows_mod

# PostgreSQL and MySQL both cut identifiers at 63/64 characters.
MAX_IDENTIFIER = 60
_LOCAL_HOSTS = {None, '', 'localhost', '127.0.0.1', '::1'}


def _short_name(prefix, *parts):
    name = '_'.join((prefix,) + parts)
    if len(name) <= MAX_IDENTIFIER:
        return name
    return '%s_%s' % (prefix, hashlib.sha256(
        '\0'.join(parts).encode('utf-8')).hexdigest()[:24])


def type_family(col_type):
    """The kind of values a column holds, the same on every dialect.

    A changed family is schema drift. Booleans count as integers: MySQL
    has no boolean type and reflects BOOLEAN as TINYINT(1).
    """
    if isinstance(col_type, (sa.Boolean, sa.Integer)):
        return 'integer'
    if isinstance(col_type, sa.Numeric):
        return 'numeric'
    if isinstance(col_type, sa.DateTime):
        return 'datetime'
    if isinstance(col_type, sa.Date):
        return 'date'
    if isinstance(col_type, sa.Time):
        return 'time'
    if isinstance(col_type, sa.Interval):
        return 'interval'
    if isinstance(col_type, sa.JSON):
        return 'json'
    if isinstance(col_type, (sa.LargeBinary, sa.BINARY, sa.VARBINARY)):
        return 'binary'
    if isinstance(col_type, (sa.String, sa.Enum, sa.Uuid)):
        return 'string'
    return type(col_type).__name__.lower()


def _dialect_of(col_type):
    module = type(col_type).__module__
    if '.dialects.' not in module:
        return None
    return module.split('.dialects.', 1)[1].split('.', 1)[0]


def archive_type(col_type, dialect, table, column):
    """The archive column's type for a reflected source column's type.

    The same dialect takes the reflected type as it is (a PostgreSQL
    enum stays an enum of the same name and values). Another dialect gets
    the generic equivalent, made valid where the target needs more.
    """
    new = _archive_type(col_type, dialect.name, table, column)
    try:
        new.compile(dialect=dialect)
    except sa.exc.CompileError:
        # A type this database cannot spell; its values go over as text.
        new = sa.Text()
    return new


def _archive_type(col_type, dialect, table, column):
    if _dialect_of(col_type) == dialect:
        new = col_type
    else:
        # Reflection gives upper-case SQL types (BLOB, DATETIME) that not
        # every database knows: always go through the generic type.
        try:
            new = col_type.as_generic()
        except NotImplementedError:
            # inet, bit and the like: the drivers hand them over as text.
            new = sa.Text()
        if isinstance(new, sa.String) and getattr(new, 'collation', None):
            # Collation names belong to one server's vocabulary.
            new = new.copy()
            new.collation = None
    if isinstance(new, sa.Enum):
        if dialect == 'postgresql' and not new.name:
            new = sa.Enum(*new.enums, name=_short_name('ck', table, column))
    elif isinstance(new, sa.DateTime):
        if dialect == 'mysql' and not isinstance(new, mysql.DATETIME):
            # DATETIME without a precision drops the microseconds other
            # databases keep; verification would then (rightly) fail.
            new = mysql.DATETIME(fsp=6, timezone=new.timezone)
    elif isinstance(new, sa.String) and not isinstance(new, sa.Enum):
        if dialect == 'mysql' and not new.length and not isinstance(
                new, sa.Text):
            new = sa.Text()
    return new


def compare(source, archive):
    """Differences between a source table and its archive copy, or None."""
    src = {c.name: c for c in source.columns}
    arc = {c.name: c for c in archive.columns}
    missing = sorted(set(src) - set(arc))
    extra = sorted(set(arc) - set(src))
    changed = []
    for name in sorted(set(src) & set(arc)):
        want = type_family(src[name].type)
        have = type_family(arc[name].type)
        if want != have:
            changed.append('%s (%s in the source, %s in the archive)'
                           % (name, want, have))
            continue
        enums = getattr(src[name].type, 'enums', None)
        if enums and isinstance(arc[name].type, sa.Enum):
            lacking = sorted(set(enums) - set(arc[name].type.enums))
            if lacking:
                changed.append('%s (enum values %s not in the archive)'
                               % (name, ', '.join(lacking)))
    src_pk = [c.name for c in backends.pk_columns(source)]
    arc_pk = [c.name for c in backends.pk_columns(archive)]
    if src_pk != arc_pk:
        changed.append('primary key (%s in the source, %s in the archive)'
                       % (', '.join(src_pk), ', '.join(arc_pk) or 'none'))
    if not (missing or extra or changed):
        return None
    parts = []
    if missing:
        parts.append('columns missing in the archive: ' + ', '.join(missing))
    if extra:
        parts.append('columns only in the archive: ' + ', '.join(extra))
    if changed:
        parts.append('changed: ' + '; '.join(changed))
    text = '%s: %s' % (source.name, '; '.join(parts))
    return {'table': source.name, 'missing': missing, 'extra': extra,
            'changed': changed, 'text': text}


def _same_database(a, b):
    a = sa.engine.make_url(a)
    b = sa.engine.make_url(b)
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == 'sqlite':
        if not a.database or not b.database:
            return False
        return os.path.realpath(a.database) == os.path.realpath(b.database)

    def _host(url):
        return 'localhost' if url.host in _LOCAL_HOSTS else url.host

    return ((_host(a), a.port, a.database) == (_host(b), b.port, b.database))


class DatabaseBackend(base.ArchiveBackend):
    """Archived rows in tables of the same names in another database.

    Archive tables are created from the reflected source table: same
    columns, same types (or their generic equivalents on another kind
    of database), the same primary key, no foreign keys, one index on the
    age column for retention. Which job archived which key is in the
    journal, not here.
    """

    kind = 'database'
    atomic_with_source = False

    def __init__(self, url=None, source_url=None, **other_options):
        if not url:
            raise errors.InvalidParams(
                'The database archive backend needs an archive_connection '
                'in the configuration file.')
        if source_url and _same_database(url, source_url):
            raise errors.InvalidParams(
                'The archive database is the target database itself; use '
                'the shadow backend or another database.')
        self._url = sa.engine.make_url(url)
        # Told where the source is, and it is elsewhere: no need to look
        # for live rows in the archive (a scan of a large table).
        self._source_known = bool(source_url)
        self._engine = None
        self._tables = {}
        self._sources = {}
        self._graph = None
        self._conn = None

    @property
    def engine(self):
        if self._engine is None:
            self._engine = sa.create_engine(self._url, pool_pre_ping=True)
        return self._engine

    @property
    def url(self):
        return self._url.render_as_string(hide_password=True)

    def location(self):
        return {'kind': self.kind, 'url': self.url}

    def bind_graph(self, graph):
        """Learn the source schema (age columns) without any DDL."""
        self._graph = graph

    # Schema

    def prepare(self, graph, tables):
        self.bind_graph(graph)
        self._prepare({backends.name_of(t): graph.tables[backends.name_of(t)]
                       for t in tables})

    def _prepare(self, sources):
        for name, source in sources.items():
            if not backends.pk_columns(source):
                raise errors.PurgeError(
                    'Table %s has no primary key; rows without a key cannot '
                    'be archived, checked or restored one by one.' % name)
        dialect = self.engine.dialect
        with self.engine.begin() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            archived = {name: self._reflect(conn, name)
                        for name in sources if name in existing}
            # Every existing table is checked before anything is created
            # or written, so a drifted archive is left exactly as it was.
            self._check(sources, archived)
            self._check_not_source(conn, archived)
            meta = sa.MetaData()
            created = [self._build(meta, source, dialect)
                       for name, source in sources.items()
                       if name not in archived]
            if created:
                meta.create_all(conn, tables=created, checkfirst=True)
                # What the archive made of the types is what counts: read
                # it back and hold it to the same rule as an old table.
                fresh = {t.name: self._reflect(conn, t.name)
                         for t in created}
                self._check({n: sources[n] for n in fresh}, fresh)
                archived.update(fresh)
        for name, source in sources.items():
            self._sources[name] = source
            self._tables[name] = archived[name]

    def _reflect(self, conn, name):
        return sa.Table(name, sa.MetaData(), autoload_with=conn)

    def _check(self, sources, archived):
        problems = [compare(sources[name], table)
                    for name, table in sorted(archived.items())]
        problems = [p for p in problems if p]
        if problems:
            exc = errors.SchemaMismatch(
                'The archive database %s no longer matches the source '
                'schema (%s). Nothing was written. Move the old archive '
                'tables aside or migrate them, then run the job again.'
                % (self.url, ' | '.join(p['text'] for p in problems)))
            exc.tables = {p['table']: p for p in problems}
            raise exc

    def _check_not_source(self, conn, archived):
        """Refuse an archive that holds live rows: it is the source.

        Archiving into the target itself would find every row "already
        archived" and then delete it from both. Only rows that are
        soft-deleted ever reach the archive of a table whose rows are not
        owned by a parent; a live one there means a wrong URL.
        """
        graph = self._graph
        if (self._source_known or graph is None or
                not hasattr(graph, 'soft_delete')):
            return
        for name, table in sorted(archived.items()):
            soft = graph.soft_delete(name)
            if soft is None or soft.kind not in ('integer', 'boolean'):
                continue
            if any(getattr(e, 'owned', False)
                   for e in getattr(graph, 'parents', lambda n: [])(name)):
                continue
            live = conn.execute(sa.select(sa.literal(1)).select_from(
                table).where(sa.not_(soft.condition(table))).limit(1))
            if live.first() is not None:
                raise errors.PurgeError(
                    'Archive table %s in %s holds rows that are not '
                    'soft-deleted: the archive connection seems to point '
                    'at the target database itself. Nothing was written.'
                    % (name, self.url))

    def _build(self, meta, source, dialect):
        # No defaults, no constraints but the key: the archive keeps
        # whatever the rows held, and nothing else writes to it.
        columns = [sa.Column(c.name,
                             archive_type(c.type, dialect, source.name,
                                          c.name),
                             primary_key=c.primary_key,
                             nullable=not c.primary_key,
                             autoincrement=False)
                   for c in source.columns]
        table = sa.Table(source.name, meta, *columns)
        age = self._graph_age_column(source.name)
        if age and age in table.c and not table.c[age].primary_key:
            sa.Index(_short_name('ix', source.name, age), table.c[age])
        return table

    def _graph_age_column(self, name):
        if self._graph is None:
            return None
        try:
            return self._graph.age_column(name)
        except (KeyError, AttributeError):
            return None

    def _table(self, table):
        """The archive table for a source table or name; None if none."""
        name = backends.name_of(table)
        if name in self._tables:
            return self._tables[name]
        if not isinstance(table, str):
            # A table the caller did not prepare: check it now, before
            # the first write, rather than fail half way through.
            self._prepare({name: table})
            return self._tables[name]
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(name):
                return None
            self._tables[name] = self._reflect(conn, name)
        return self._tables[name]

    # Rows

    def _begin(self):
        if self._conn is None:
            self._conn = self.engine.connect()
            self._conn.begin()
        return self._conn

    @contextlib.contextmanager
    def _reader(self):
        # Inside a batch, read through its transaction so its own
        # uncommitted rows count; otherwise a short one of our own.
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    def _keys(self, archive, keys):
        columns = backends.pk_columns(archive)
        return columns, [backends.decode_key(columns, k) for k in keys]

    def _select(self, conn, archive, keys):
        columns, keys = self._keys(archive, keys)
        for chunk in backends.chunks(keys):
            stmt = sa.select(archive).where(
                backends.keys_clause(columns, chunk))
            for row in conn.execute(stmt).mappings():
                yield dict(row)

    def _abort(self):
        """Drop the batch's archive transaction (a retry starts afresh)."""
        if self._conn is not None:
            try:
                self._conn.rollback()
            finally:
                self._conn.close()
                self._conn = None

    def write(self, conn, table, rows, batch):
        archive = self._table(table)
        rows = [dict(r) for r in rows]
        pk = [c.name for c in backends.pk_columns(archive)]
        count, sha = rows_mod.digest(rows, pk)
        try:
            self._insert_new(archive, pk, rows)
        except BaseException:
            # Half a batch must never be committed by a later flush, and
            # PostgreSQL refuses anything more in a failed transaction.
            self._abort()
            raise
        return {'rows': count, 'sha256': sha,
                'location': '%s#%s' % (self.url, archive.name)}

    def _insert_new(self, archive, pk, rows):
        aconn = self._begin()
        new = {_ident(rows_mod.key_of(r, pk)): r for r in rows}
        clash = []
        for old in self._select(aconn, archive,
                                [rows_mod.key_of(r, pk) for r in rows]):
            row = new.pop(_ident(rows_mod.key_of(old, pk)), None)
            if row is None:
                continue
            # Written before (a resumed or retried batch): keep it if it
            # is the same row; a different row under the same key means
            # the source reused a key, and overwriting would lose the
            # row archived first.
            if rows_mod.canonical(old) != rows_mod.canonical(row):
                clash.append(rows_mod.key_of(old, pk))
        if clash:
            raise errors.VerificationFailed(
                'Archive table %s in %s already holds different rows under '
                'the keys %s: the source reused these keys. Move those '
                'archived rows aside, then resume the job.'
                % (archive.name, self.url, backends.show_keys(clash)))
        if new:
            aconn.execute(archive.insert(),
                          [self._bind(archive, r) for r in new.values()])

    def _bind(self, archive, row):
        values = {}
        for name, value in row.items():
            col_type = archive.c[name].type
            if isinstance(col_type, sa.Enum) and value is not None:
                # Bound as text: the archive's own enum type takes it
                # whatever enum type the source column had.
                value = getattr(value, 'value', value)
                value = str(value)
            values[name] = value
        return values

    def verify(self, conn, table, keys, expected):
        archive = self._table(table)
        if archive is None:
            raise errors.VerificationFailed(
                'Archive table %s does not exist in %s.'
                % (backends.name_of(table), self.url))
        pk = [c.name for c in backends.pk_columns(archive)]
        with self._reader() as aconn:
            found = list(self._select(aconn, archive, keys))
        count, sha = rows_mod.digest(found, pk)
        if count != expected['rows'] or sha != expected['sha256']:
            self._abort()
            raise errors.VerificationFailed(
                'Archive table %s in %s holds %d rows (sha256 %s) where '
                '%d rows (sha256 %s) were written; the source rows were '
                'not deleted.' % (archive.name, self.url, count, sha,
                                  expected['rows'], expected['sha256']))

    def flush(self, batch):
        if self._conn is None:
            return
        try:
            self._conn.commit()
        finally:
            self._conn.close()
            self._conn = None

    def contains(self, table, keys):
        archive = self._table(table)
        if archive is None or not keys:
            return 0
        columns, keys = self._keys(archive, keys)
        total = 0
        with self._reader() as conn:
            for chunk in backends.chunks(keys):
                total += conn.execute(
                    sa.select(sa.func.count()).select_from(archive).where(
                        backends.keys_clause(columns, chunk))).scalar()
        return total

    def read(self, table, keys):
        archive = self._table(table)
        if archive is None:
            return
        source = (table if not isinstance(table, str)
                  else self._sources.get(archive.name))
        with self._reader() as conn:
            for row in self._select(conn, archive, keys):
                # In the source's own types: an archive elsewhere may
                # hold a boolean as an integer, bytea as a memoryview.
                yield (backends.decode_row(source, row) if source is not None
                       else row)

    def remove(self, table, keys):
        archive = self._table(table)
        if archive is None or not keys:
            return 0
        columns, keys = self._keys(archive, keys)
        removed = 0
        with self.engine.begin() as conn:
            for chunk in backends.chunks(keys):
                removed += conn.execute(archive.delete().where(
                    backends.keys_clause(columns, chunk))).rowcount
        return removed

    def age_columns(self, table):
        """Columns whose first non-null value dates an archived row."""
        archive = self._table(table)
        if archive is None:
            return []
        names = [self._graph_age_column(archive.name)]
        names.extend(backends.FALLBACK_AGE_COLUMNS)
        found = []
        for name in names:
            if name and name in archive.c and name not in found and \
                    isinstance(archive.c[name].type, (sa.DateTime, sa.Date)):
                found.append(name)
        return found

    def expire(self, table, older_than, limit):
        archive = self._table(table)
        if archive is None:
            return 0
        ages = [archive.c[a] for a in self.age_columns(archive.name)]
        if not ages:
            return 0
        # The first column alone first, so its index serves; rows where it
        # is null are dated by the others.
        conditions = [ages[0] < older_than]
        if len(ages) > 1:
            rest = ages[1] if len(ages) == 2 else sa.func.coalesce(*ages[1:])
            conditions.append(sa.and_(ages[0].is_(None), rest < older_than))
        columns = backends.pk_columns(archive)
        with self.engine.begin() as conn:
            # Keys first, then a keyed delete: MySQL allows no LIMIT in
            # an IN subquery, and this keeps each statement bounded.
            keys = []
            for condition in conditions:
                if len(keys) >= limit:
                    break
                keys.extend(list(r) for r in conn.execute(
                    sa.select(*columns).where(condition)
                    .limit(limit - len(keys))))
            removed = 0
            for chunk in backends.chunks(keys):
                removed += conn.execute(archive.delete().where(
                    backends.keys_clause(columns, chunk))).rowcount
        return removed

    def close(self):
        self._abort()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _ident(key):
    """A hashable form of a key, equal whichever driver read it."""
    return rows_mod.canonical({'k': list(key)})
