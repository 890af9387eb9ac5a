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

"""The parameters of a purge job, validated once for the API and worker."""

import dataclasses
import datetime
import math
import re
import uuid

from oslo_utils import timeutils

from cryptkeeper.purge import errors
from cryptkeeper.purge.profiles import base as profile_base

MODES = ('plan', 'archive', 'purge', 'restore')
BACKENDS = ('shadow', 'database', 'files')
MAX_DAYS = 36500
MAX_BATCH = 10000
MAX_RATE = 1000000
MAX_PAUSE = 3600
DEFAULT_BATCH = 500
DEFAULT_RETENTION = 90
# Table names the way SQL writes them unquoted; anything else cannot be
# the name of a table of an OpenStack service.
_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,63}$')
_WINDOW = re.compile(r'^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$')


def _fail(message):
    raise errors.InvalidParams(message)


def _number(key, value, low, high, integer=False):
    if isinstance(value, bool) or value is None:
        _fail('%s must be a number, not %r.' % (key, value))
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            _fail('%s must be a number, not %r.' % (key, value))
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail('%s must be a number, not %r.' % (key, value))
    if integer:
        if value != int(value):
            _fail('%s must be a whole number, not %r.' % (key, value))
        value = int(value)
    if value < low or value > high:
        _fail('%s must be between %s and %s, not %s.'
              % (key, low, high, value))
    return value


def _naive_utc(value):
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def parse_window(text):
    """``HH:MM-HH:MM`` to (start, end) in minutes after midnight (UTC).

    The window may wrap midnight (``22:00-04:00``).
    """
    if not isinstance(text, str):
        _fail('window must be a string "HH:MM-HH:MM", not %r.' % (text,))
    match = _WINDOW.match(text.strip())
    if not match:
        _fail('window must look like "22:00-04:00" (HH:MM-HH:MM, UTC), '
              'not %r.' % text)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    for hours, minutes in ((h1, m1), (h2, m2)):
        if hours > 23 or minutes > 59:
            _fail('window %r has an impossible time of day; hours go to '
                  '23 and minutes to 59.' % text)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        _fail('window %r starts when it ends; leave the window out to run '
              'at any time.' % text)
    return start, end


def in_window(window, when):
    """Whether naive UTC ``when`` is inside ``window`` (start, end)."""
    start, end = window
    minute = when.hour * 60 + when.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def seconds_until_open(window, when):
    """Seconds from ``when`` until the window next opens (0 inside it)."""
    if in_window(window, when):
        return 0
    start = window[0]
    opens = when.replace(hour=start // 60, minute=start % 60, second=0,
                         microsecond=0)
    if opens <= when:
        opens += datetime.timedelta(days=1)
    return (opens - when).total_seconds()


@dataclasses.dataclass
class Params:
    """A purge job's parameters, normalised (see :meth:`from_dict`)."""

    mode: str = 'plan'
    older_than: float = None
    before: datetime.datetime = None
    tables: list = None
    project_id: str = None
    batch_size: int = DEFAULT_BATCH
    max_rows_per_second: float = None
    pause: float = 0
    window: str = None
    backend: str = 'shadow'
    retention_days: float = None
    restore_job: str = None
    cells: str = None
    now: datetime.datetime = dataclasses.field(default=None, repr=False)

    KEYS = ('mode', 'older_than', 'before', 'tables', 'project_id',
            'batch_size', 'max_rows_per_second', 'pause', 'window',
            'backend', 'retention_days', 'restore_job', 'cells')

    @classmethod
    def from_dict(cls, data, now=None):
        """Validate and normalise what a job was asked to do.

        :param data: the job's parameters (a JSON object).
        :param now: naive UTC time ages count back from (the job's
            creation time, so a resumed job selects the same rows).
        :raises: errors.InvalidParams with a message for the operator.
        """
        now = _naive_utc(now or timeutils.utcnow())
        if data is None:
            data = {}
        if not isinstance(data, dict):
            _fail('Purge parameters must be an object, not %s.'
                  % type(data).__name__)
        unknown = sorted(str(k) for k in data if k not in cls.KEYS)
        if unknown:
            _fail('Unknown purge parameter(s): %s. Known: %s.'
                  % (', '.join(unknown), ', '.join(cls.KEYS)))
        p = cls(now=now)
        p.mode = cls._choice(data, 'mode', MODES, 'plan')
        p.backend = cls._choice(data, 'backend', BACKENDS, 'shadow')
        cls._age(p, data, now)
        p.tables = cls._tables(data.get('tables'))
        p.project_id = cls._project(data.get('project_id'))
        if data.get('batch_size') is not None:
            p.batch_size = _number('batch_size', data['batch_size'], 1,
                                   MAX_BATCH, integer=True)
        if data.get('max_rows_per_second') is not None:
            p.max_rows_per_second = _number(
                'max_rows_per_second', data['max_rows_per_second'], 1,
                MAX_RATE)
        if data.get('pause') is not None:
            p.pause = _number('pause', data['pause'], 0, MAX_PAUSE)
        if data.get('window') is not None:
            start, end = parse_window(data['window'])
            p.window = '%02d:%02d-%02d:%02d' % (start // 60, start % 60,
                                                end // 60, end % 60)
        cls._mode_keys(p, data)
        return p

    @staticmethod
    def _choice(data, key, allowed, default):
        value = data.get(key)
        if value is None:
            return default
        if value not in allowed:
            _fail('%s must be one of %s, not %r.'
                  % (key, ', '.join(allowed), value))
        return value

    @staticmethod
    def _age(p, data, now):
        older_than = data.get('older_than')
        before = data.get('before')
        if older_than is not None and before is not None:
            _fail('Give older_than (days) or before (a time), not both.')
        if older_than is not None:
            p.older_than = _number('older_than', older_than, 0, MAX_DAYS)
        if before is not None:
            if isinstance(before, datetime.datetime):
                when = before
            elif isinstance(before, str):
                try:
                    when = timeutils.parse_isotime(before.strip())
                except ValueError:
                    _fail('before must be an ISO 8601 time such as '
                          '2025-01-31T00:00:00Z, not %r.' % before)
            else:
                _fail('before must be an ISO 8601 time string, not %r.'
                      % (before,))
            when = _naive_utc(when)
            if when > now:
                _fail('before (%s) is in the future; rows cannot have been '
                      'deleted then. The time now is %s UTC.'
                      % (when.isoformat(), now.replace(
                          microsecond=0).isoformat()))
            if when < now - datetime.timedelta(days=MAX_DAYS):
                _fail('before (%s) is more than %d days ago.'
                      % (when.isoformat(), MAX_DAYS))
            p.before = when

    @staticmethod
    def _tables(tables):
        if tables is None:
            return None
        if isinstance(tables, str):
            tables = [tables]
        if not isinstance(tables, (list, tuple)) or not tables:
            _fail('tables must be a non-empty list of table names.')
        seen = []
        for name in tables:
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                _fail('%r is not a table name (letters, digits and _, at '
                      'most 64).' % (name,))
            if (name.startswith(profile_base.SHADOW_PREFIX) or
                    name in profile_base.ALWAYS_EXCLUDED):
                _fail('Table %s is never purged: shadow tables are the '
                      'archive, and %s belong to the migration tools.'
                      % (name, ', '.join(sorted(
                          profile_base.ALWAYS_EXCLUDED))))
            if name not in seen:
                seen.append(name)
        return seen

    @staticmethod
    def _project(project_id):
        if project_id is None:
            return None
        if (not isinstance(project_id, str) or not project_id.strip() or
                len(project_id) > 255):
            _fail('project_id must be a project id (a non-empty string of '
                  'at most 255 characters), not %r.' % (project_id,))
        return project_id.strip()

    @staticmethod
    def _mode_keys(p, data):
        if data.get('retention_days') is not None:
            if p.mode != 'purge':
                _fail('retention_days applies to mode purge only (how old '
                      'archived copies must be before they are deleted).')
            p.retention_days = _number('retention_days',
                                       data['retention_days'], 0, MAX_DAYS)
        elif p.mode == 'purge':
            p.retention_days = DEFAULT_RETENTION
        restore_job = data.get('restore_job')
        if p.mode == 'restore':
            if restore_job is None:
                _fail('mode restore needs restore_job: the uuid of the '
                      'archive job whose rows go back.')
            try:
                p.restore_job = str(uuid.UUID(str(restore_job)))
            except ValueError:
                _fail('restore_job must be a job uuid, not %r.'
                      % (restore_job,))
        elif restore_job is not None:
            _fail('restore_job applies to mode restore only.')
        cells = data.get('cells')
        if cells is not None:
            if cells != 'all':
                _fail('cells must be "all" (every cell of the nova_api '
                      'target\'s cell_mappings), not %r.' % (cells,))
            p.cells = 'all'

    def cutoff(self, now=None):
        """Naive UTC time: rows deleted before it are old enough.

        ``before`` when given; else ``older_than`` days before ``now``
        (default: the ``now`` the parameters were read with). Neither
        means every deleted row (the cutoff is ``now``).
        """
        now = _naive_utc(now or self.now or timeutils.utcnow())
        if self.before is not None:
            return self.before
        if self.older_than:
            return now - datetime.timedelta(days=self.older_than)
        return now

    def window_minutes(self):
        """(start, end) minutes after midnight UTC, or None."""
        return parse_window(self.window) if self.window else None

    def to_dict(self):
        """The normalised parameters (JSON), as stored on the job."""
        out = {}
        for key in self.KEYS:
            value = getattr(self, key)
            if key == 'before' and value is not None:
                value = value.isoformat()
            if key == 'tables' and value is not None:
                value = list(value)
            out[key] = value
        return out
