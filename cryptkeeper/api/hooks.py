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

"""Pecan hooks: JSON only, the request context and the database."""

import json

from pecan import hooks
from webob import exc

from cryptkeeper.common import context
from cryptkeeper.db import api as db_api

_FORMS = ('multipart/form-data', 'application/x-www-form-urlencoded')


class ContextHook(hooks.PecanHook):
    """Build the RequestContext from the identity headers.

    auth_token (or the noauth middleware) set those headers; creating
    the context stores it thread-locally, where oslo.log finds it, so
    every log line of the request names its request id and user.
    """

    def on_route(self, state):
        # As early as routing, so even a refused body is logged with it.
        state.request.context = context.RequestContext.from_environ(
            state.request.environ)


class DBHook(hooks.PecanHook):
    """Hand controllers the database interface."""

    def before(self, state):
        state.request.dbapi = db_api.get_instance()


class JsonHook(hooks.PecanHook):
    """JSON in, JSON out, whatever the client asks for.

    WSME would otherwise answer XML to an XML Accept header and parse
    XML bodies; and it fails on bodies that parse but are no object.
    """

    def on_route(self, state):
        req = state.request
        req.pecan['content_type'] = 'application/json'
        # Form bodies would be parsed into the arguments of the method,
        # and a malformed multipart header breaks that parsing.
        if req.content_type in _FORMS:
            raise exc.HTTPUnsupportedMediaType(
                explanation='Request bodies must be application/json.')
        if not req.body:
            return
        if req.content_type != 'application/json':
            raise exc.HTTPUnsupportedMediaType(
                explanation='Request bodies must be application/json.')
        try:
            doc = json.loads(req.body)
        except (ValueError, RecursionError):
            raise exc.HTTPBadRequest(
                explanation='Request body is not valid JSON.') from None
        if not isinstance(doc, dict):
            raise exc.HTTPBadRequest(
                explanation='Request body must be a JSON object.')
