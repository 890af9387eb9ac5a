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

"""Validation of query parameters and bodies shared by the collections."""

from oslo_utils import strutils
from oslo_utils import timeutils
from oslo_utils import uuidutils

from cryptkeeper.common import exception
from cryptkeeper import conf

CONF = conf.CONF

MAX_STRING = 255
# Audit ids are BIGINT; anything larger can only be bad input, and would
# overflow the database driver rather than simply match nothing.
MAX_ID = 2 ** 63 - 1


def invalid(reason):
    return exception.Invalid(reason=reason)


def validate_limit(limit):
    """Return the page size; refuse rather than clamp a bad one."""
    if limit is None:
        return CONF.api.default_limit
    if limit < 1:
        raise invalid('limit must be a positive integer, not %d.' % limit)
    if limit > CONF.api.max_limit:
        raise invalid('limit must be at most %d, not %d.'
                      % (CONF.api.max_limit, limit))
    return limit


def validate_sort(sort_key, sort_dir, allowed):
    if sort_key not in allowed:
        raise invalid('sort_key must be one of %s.' % ', '.join(allowed))
    if sort_dir not in ('asc', 'desc'):
        raise invalid("sort_dir must be 'asc' or 'desc'.")


def validate_choice(name, value, allowed):
    if value is not None and value not in allowed:
        raise invalid('%s must be one of %s.' % (name, ', '.join(allowed)))
    return value


def validate_string(name, value):
    if value is not None and len(value) > MAX_STRING:
        raise invalid('%s is longer than %d characters.'
                      % (name, MAX_STRING))
    return value


def parse_bool(name, value):
    """A boolean query parameter; WSME would read "false" as true."""
    if value is None:
        return None
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise invalid('%s must be true or false, not %r.'
                      % (name, value)) from None


def validate_uuid(name, value):
    if value is not None and not uuidutils.is_uuid_like(value):
        raise invalid('%s must be a UUID.' % name)
    return value


def validate_id(name, value):
    if value is not None and not 0 < value <= MAX_ID:
        raise invalid('%s must be an integer between 1 and %d.'
                      % (name, MAX_ID))
    return value


def json_object(body):
    """The body of a request, refused unless it is a JSON object."""
    # JsonHook has refused bodies that are not a JSON object; an empty
    # body reaches us as Unset.
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object.')
    return body


def changed(old, new):
    # A boolean column may read back as 0 or 1.
    if isinstance(new, bool):
        return bool(old) != new
    return old != new


def changes(row, values, show=lambda value: value):
    """What a PATCH changes: {column: {'from': old, 'to': new}}.

    :param show: turns a value into what the audit record holds.
    """
    return {key: {'from': show(row[key]), 'to': show(value)}
            for key, value in values.items() if changed(row[key], value)}


def parse_time(name, value):
    """Parse ISO 8601 into the naive UTC datetimes the database holds."""
    if value is None:
        return None
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except (ValueError, OverflowError):
        raise invalid('%s must be an ISO 8601 date and time, such as '
                      '2024-05-01T12:00:00Z.' % name) from None
