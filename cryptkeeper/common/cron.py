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

"""Five-field cron expressions, as crontab(5) writes them, in UTC.

Our own small parser rather than a dependency: schedules need only
"is this valid" with a message an operator can act on, and "when is the
next run after t". Accepting exactly crontab's five fields also means
no seconds or year field, and none of the L, W, # or H extensions that
other libraries take and crontab would refuse.
"""

import datetime

MAX_LENGTH = 255

# name, lowest, highest, names for the values (index = value - lowest)
_FIELDS = (
    ('minute', 0, 59, None),
    ('hour', 0, 23, None),
    ('day of month', 1, 31, None),
    ('month', 1, 12, ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul',
                      'aug', 'sep', 'oct', 'nov', 'dec')),
    # 7 is Sunday too, as in crontab.
    ('day of week', 0, 7, ('sun', 'mon', 'tue', 'wed', 'thu', 'fri',
                           'sat')),
)

ALIASES = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
}

# February counts 29 days: a schedule on the 29th fires in leap years.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Leap years can be eight years apart (2096, 2104), so any expression
# that can match at all matches within this many days of any moment.
_HORIZON_DAYS = 8 * 366 + 1


class InvalidCron(ValueError):
    """A cron expression that cannot be used; the message says why."""


def _number(text, field):
    name, low, high, names = field
    word = text.lower()
    if names is not None and word in names:
        return low + names.index(word)
    if not text.isdigit():
        raise InvalidCron('%r is not a valid %s value.' % (text, name))
    value = int(text)
    if not low <= value <= high:
        raise InvalidCron('%s must be between %d and %d, not %d.'
                          % (name, low, high, value))
    return value


def _parse_item(item, field):
    name, low, high, _names = field
    base, slash, step_text = item.partition('/')
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise InvalidCron('step %r of the %s field must be a positive '
                              'integer.' % (step_text, name))
        step = int(step_text)
        if step > high - low + 1:
            raise InvalidCron('step %d of the %s field is larger than its '
                              'range %d-%d.' % (step, name, low, high))
    if base == '*':
        start, end = low, high
    elif '-' in base:
        first, _dash, last = base.partition('-')
        start, end = _number(first, field), _number(last, field)
        if start > end:
            raise InvalidCron('range %s of the %s field runs backwards; '
                              'write it as two ranges.' % (base, name))
    else:
        start = _number(base, field)
        # "5/15" runs from 5 to the end of the range, as in croniter
        # and systemd; plain crontab would need "5-59/15".
        end = high if slash else start
    return set(range(start, end + 1, step))


def _parse_field(text, field):
    name = field[0]
    if not text:
        raise InvalidCron('the %s field is empty.' % name)
    values = set()
    for item in text.split(','):
        if not item:
            raise InvalidCron('the %s field %r has an empty list item.'
                              % (name, text))
        values |= _parse_item(item, field)
    return values


class CronExpression:
    """A parsed expression; see :func:`parse`."""

    def __init__(self, text, minutes, hours, days, months, weekdays,
                 days_restricted, weekdays_restricted):
        self.text = text
        self.minutes = sorted(minutes)
        self.hours = sorted(hours)
        self.days = frozenset(days)
        self.months = frozenset(months)
        self.weekdays = frozenset(weekdays)
        self.days_restricted = days_restricted
        self.weekdays_restricted = weekdays_restricted

    def __str__(self):
        return self.text

    def _day_matches(self, date):
        if date.month not in self.months:
            return False
        # crontab's rule: when both day fields are restricted, a day
        # matching either one is a match; otherwise both must match.
        day_ok = date.day in self.days
        weekday_ok = (date.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def matches(self, moment):
        """Whether the expression fires at ``moment`` (to the minute)."""
        return (moment.minute in self.minutes and
                moment.hour in self.hours and
                self._day_matches(moment.date()))

    def next_after(self, moment):
        """The first time strictly after ``moment`` the expression fires.

        ``moment`` is a naive UTC datetime, and so is the answer, on a
        whole minute.
        """
        start = (moment.replace(second=0, microsecond=0) +
                 datetime.timedelta(minutes=1))
        date = start.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(date):
                found = self._first_time(date, start)
                if found is not None:
                    return found
            date += datetime.timedelta(days=1)
        # parse() refuses expressions that can never fire.
        raise InvalidCron('%s never fires.' % self.text)

    def _first_time(self, date, start):
        same_day = date == start.date()
        for hour in self.hours:
            if same_day and hour < start.hour:
                continue
            for minute in self.minutes:
                if same_day and hour == start.hour and \
                        minute < start.minute:
                    continue
                return datetime.datetime(date.year, date.month, date.day,
                                         hour, minute)
        return None


def _can_fire(days, months, days_restricted, weekdays_restricted):
    if not days_restricted or weekdays_restricted:
        # Every month has every weekday, and every day-of-month up to 28.
        return True
    return any(day <= _MONTH_DAYS[month - 1]
               for month in months for day in days)


def parse(text):
    """Parse a five-field cron expression or an @alias.

    :raises: InvalidCron with a message naming the faulty field.
    """
    if not isinstance(text, str):
        raise InvalidCron('a cron expression must be a string.')
    if len(text) > MAX_LENGTH:
        raise InvalidCron('a cron expression is at most %d characters.'
                          % MAX_LENGTH)
    normal = ' '.join(text.split())
    if not normal:
        raise InvalidCron('the cron expression is empty.')
    if normal.startswith('@'):
        if normal.lower() not in ALIASES:
            raise InvalidCron('%s is not supported; use one of %s or five '
                              'fields.' % (normal, ', '.join(ALIASES)))
        normal = normal.lower()
        fields = ALIASES[normal].split()
    else:
        fields = normal.split(' ')
    if len(fields) != len(_FIELDS):
        raise InvalidCron(
            '%r has %d fields; a cron expression has five: minute, hour, '
            'day of month, month, day of week (for example "30 2 * * *" '
            'for 02:30 UTC every day).' % (normal, len(fields)))
    minutes, hours, days, months, weekdays = (
        _parse_field(value, field)
        for value, field in zip(fields, _FIELDS, strict=True))
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    days_restricted = not fields[2].startswith('*')
    weekdays_restricted = not fields[4].startswith('*')
    if not _can_fire(days, months, days_restricted, weekdays_restricted):
        raise InvalidCron('%r never fires: no month chosen has the days '
                          'chosen.' % normal)
    return CronExpression(normal, minutes, hours, days, months, weekdays,
                          days_restricted, weekdays_restricted)


def next_after(text, moment):
    """Parse ``text`` and return its next run after ``moment``."""
    return parse(text).next_after(moment)
