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

"""Bases of the API resource types and controllers."""

import pecan
from pecan import rest
from wsme import types as wtypes


class APIBase(wtypes.Base):
    """A resource type built from a database row."""

    # Fields copied from the row as they are; subclasses list theirs.
    _fields = ()

    @classmethod
    def from_row(cls, row, **extra):
        values = {f: getattr(row, f) for f in cls._fields}
        values.update(extra)
        return cls(**values)


class ResourceController(rest.RestController):
    """A controller of one resource collection, with no children.

    pecan would hand the id of ``POST /v1/jobs/<id>`` to ``post()`` as
    its body, and so would a custom action that only answers GET; there
    is no such route, so it is a 405.
    """

    def _handle_post(self, method, remainder, request=None):
        parts = [p for p in remainder if p]
        if parts and 'POST' not in self._custom_actions.get(parts[-1], ()):
            pecan.abort(405)
        return super()._handle_post(method, remainder, request)

    # DELETE and PATCH name one member; on the collection itself there
    # is no such route, whereas pecan would call them without an id.
    def _handle_delete(self, method, remainder, request=None):
        if not [p for p in remainder if p]:
            pecan.abort(405)
        return super()._handle_delete(method, remainder, request)

    def _handle_unknown_method(self, method, remainder, request=None):
        if method == 'patch' and not [p for p in remainder if p]:
            pecan.abort(405)
        return super()._handle_unknown_method(method, remainder, request)
