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

"""Canonical form of archived rows, so copies can be counted and checksummed.

The same rows give the same digest whichever backend they sit in and
whichever database driver read them back.
"""

import base64
import datetime
import decimal
import hashlib
import json


def _plain(value):
    if isinstance(value, datetime.datetime):
        # Naive UTC, microseconds kept: MariaDB and PostgreSQL keep what
        # the source column holds, and both sides are read the same way.
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {'b64': base64.b64encode(bytes(value)).decode('ascii')}
    if isinstance(value, bool):
        # MySQL hands booleans back as 0/1: one form for every backend.
        return int(value)
    return value


# Values JSON takes as they are: the most common, kept without _plain.
PLAIN_TYPES = (str, int, float, type(None))

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(',', ':'),
                            ensure_ascii=True, default=str)


def canonical(row):
    """Return the canonical JSON line (bytes) of one row mapping."""
    items = row.items() if hasattr(row, 'items') else dict(row).items()
    doc = {}
    for k, v in items:
        if type(k) is not str:
            k = str(k)
        kind = type(v)
        if kind in PLAIN_TYPES:
            doc[k] = v
        elif kind is datetime.datetime and v.tzinfo is None:
            # What _plain gives, without its checks (the common case).
            doc[k] = v.isoformat()
        else:
            doc[k] = _plain(v)
    return _ENCODER.encode(doc).encode('ascii')


def plain_row(row):
    """Return a JSON-serialisable dict of one row (files backend)."""
    return {str(k): _plain(v) for k, v in dict(row).items()}


def plain_key(key):
    """A key as a JSON-serialisable list: the values of :func:`plain_row`."""
    return [v if type(v) in PLAIN_TYPES else _plain(v) for v in key]


def key_of(row, pk):
    """The primary key of a row as a list, in ``pk`` column order."""
    return [row[c] for c in pk]


def digest(rows, pk):
    """SHA-256 over the canonical lines of ``rows`` sorted by primary key.

    :returns: (count, hexdigest)
    """
    lines = sorted(([r[c] for c in pk], canonical(r)) for r in rows)
    h = hashlib.sha256()
    for _, line in lines:
        h.update(line)
        h.update(b'\n')
    return len(lines), h.hexdigest()
