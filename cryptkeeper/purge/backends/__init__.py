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

"""Archive backends by name, and the key and value helpers they share."""

import base64
import datetime
import decimal

import sqlalchemy as sa

from cryptkeeper.purge import errors

KINDS = ('shadow', 'database', 'files')

# Keys per IN list: far below every driver's parameter limit (SQLite's
# is the lowest), and small enough that one statement stays short.
CHUNK = 500

# Tried in order after the profile's own age column, as nova-manage db
# purge does; a child row never soft-deleted has no deleted_at but still
# has the time it was last written.
FALLBACK_AGE_COLUMNS = ('deleted_at', 'updated_at', 'created_at')


def get(kind, **options):
    """Return the archive backend ``kind`` built from ``options``.

    database: ``url`` (from the configuration file only), optional
    ``source_url`` to refuse an archive that is the source itself.
    files: ``directory``, ``job_id``. Options of other kinds are ignored,
    so a caller may pass one set to whichever kind a job names.
    """
    # Imported here: each backend pulls in what only it needs, and the
    # shadow backend is written apart from the other two.
    if kind == 'shadow':
        from cryptkeeper.purge.backends import shadow
        return shadow.ShadowBackend(**options)
    if kind == 'database':
        from cryptkeeper.purge.backends import database
        return database.DatabaseBackend(**options)
    if kind == 'files':
        from cryptkeeper.purge.backends import files
        return files.FilesBackend(**options)
    raise errors.InvalidParams(
        'Unknown archive backend %r; expected one of: %s.'
        % (kind, ', '.join(KINDS)))


def name_of(table):
    """A table's name, whether given as an sa.Table or as a name."""
    return getattr(table, 'name', table)


def chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def keys_clause(columns, keys):
    """``pk IN (...)`` for one chunk of keys; a row-value IN when composite.

    :param columns: the primary-key columns, in key order.
    :param keys: key lists (or tuples) in the same order.
    """
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return sa.tuple_(*columns).in_([tuple(k) for k in keys])


def decode_value(col_type, value):
    """Turn a value of :func:`rows.plain_row` back into the column's type.

    JSON keeps no dates, decimals or bytes; restore and key lookups need
    them back so the database driver binds what the column holds.
    """
    if value is None:
        return None
    if isinstance(value, memoryview):
        # psycopg2 hands bytea over as a memoryview; other drivers want
        # bytes.
        return bytes(value)
    if isinstance(col_type, sa.DateTime):
        if isinstance(value, str):
            return datetime.datetime.fromisoformat(value)
    elif isinstance(col_type, sa.Date):
        if isinstance(value, str):
            return datetime.date.fromisoformat(value)
    elif isinstance(col_type, sa.Time):
        if isinstance(value, str):
            return datetime.time.fromisoformat(value)
    elif isinstance(col_type, sa.Boolean):
        if isinstance(value, int):
            return bool(value)
    elif isinstance(col_type, sa.Float):
        if isinstance(value, (str, int)):
            return float(value)
    elif isinstance(col_type, sa.Numeric):
        if isinstance(value, (str, int, float)):
            return decimal.Decimal(str(value))
    if isinstance(value, dict) and set(value) == {'b64'} and isinstance(
            col_type, (sa.LargeBinary, sa.BINARY, sa.VARBINARY)):
        return base64.b64decode(value['b64'])
    return value


def decode_row(table, row):
    """A plain row (JSON) back to the column types of ``table``."""
    return {name: decode_value(table.c[name].type, value)
            if name in table.c else value
            for name, value in row.items()}


def decode_key(columns, key):
    """A key list from a journal (JSON) back to the key columns' types."""
    return [decode_value(col.type, value)
            for col, value in zip(columns, key, strict=True)]


def pk_columns(table):
    """Primary-key columns of an sa.Table, in constraint order."""
    return list(table.primary_key.columns)


def show_keys(keys, limit=20):
    """Keys for a message: the first ``limit``, then how many more."""
    keys = list(keys)
    shown = ', '.join(str(list(k)) for k in keys[:limit])
    if len(keys) > limit:
        shown += ' and %d more' % (len(keys) - limit)
    return shown
