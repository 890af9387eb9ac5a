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

"""WSME types shared by the v1 resources."""

import datetime

from oslo_serialization import jsonutils
from wsme import types as wtypes


class JsonType(wtypes.UserType):
    """Any JSON value: job parameters, progress, results, details."""

    basetype = wtypes.text
    name = 'json'

    @staticmethod
    def validate(value):
        try:
            jsonutils.dumps(value)
        except (TypeError, ValueError):
            raise ValueError('value is not JSON-serializable') from None
        return value

    @staticmethod
    def frombasetype(value):
        return JsonType.validate(value)


jsontype = JsonType()
jsondict = {wtypes.text: jsontype}


def utc(value):
    """Mark a naive UTC datetime from the database as UTC.

    JSON then carries '+00:00', so no client mistakes it for local time.
    """
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=datetime.timezone.utc)
