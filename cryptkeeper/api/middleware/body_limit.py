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

"""Refuse request bodies larger than [api] max_request_body_size."""

import webob.dec
import webob.exc


class BodySizeLimit:
    """413 for an oversize body, whether declared or chunked."""

    def __init__(self, app, max_size):
        self._app = app
        self._max = max_size

    @webob.dec.wsgify
    def __call__(self, req):
        too_big = webob.exc.HTTPRequestEntityTooLarge(
            explanation='Request body is larger than the limit of %d '
                        'bytes.' % self._max)
        if req.content_length is not None:
            if req.content_length > self._max:
                return too_big
        elif req.is_body_readable:
            # A chunked body has no length to check up front; reading
            # one byte past the limit tells without buffering more.
            body = req.body_file_raw.read(self._max + 1)
            if len(body) > self._max:
                return too_big
            req.body = body
        return req.get_response(self._app)
