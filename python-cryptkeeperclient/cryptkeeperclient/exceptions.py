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

"""Exceptions raised by the client, each printable as one line."""

import http


def _one_line(text):
    return ' '.join(str(text).split())


class ClientException(Exception):
    """Base class for every error the client reports to its user."""

    def __init__(self, message=None):
        self.message = _one_line(message or self.__class__.__doc__)
        super().__init__(self.message)

    def __str__(self):
        return self.message


class CommandError(ClientException):
    """The command line asked for something that cannot be done."""


class ConnectionError(ClientException):
    """The cryptkeeper API could not be reached."""


class EndpointNotFound(ClientException):
    """No endpoint for the cleanup service was found."""


class InvalidResponse(ClientException):
    """The API answered with something that is not the expected JSON."""


class WaitTimeout(ClientException):
    """Gave up waiting for a job to finish."""


class HttpError(ClientException):
    """The API answered with an HTTP error."""

    http_status = None

    def __init__(self, code=None, title=None, message=None,
                 request_id=None, method=None, url=None):
        self.code = code or self.http_status
        self.title = _one_line(title or _reason(self.code))
        self.details = _one_line(message) if message else None
        self.request_id = request_id
        self.method = method
        self.url = url
        text = f'{self.code} {self.title}'.strip()
        if self.details:
            text = f'{text}: {self.details}'
        super().__init__(text)


class BadRequest(HttpError):
    """The request was rejected as invalid."""

    http_status = 400


class Unauthorized(HttpError):
    """The request was not authenticated."""

    http_status = 401


class Forbidden(HttpError):
    """The policy does not allow this request."""

    http_status = 403


class NotFound(HttpError):
    """The resource does not exist."""

    http_status = 404


class Conflict(HttpError):
    """The request conflicts with the resource's state."""

    http_status = 409


class RequestEntityTooLarge(HttpError):
    """The request body is too large."""

    http_status = 413


class ServerError(HttpError):
    """The API failed to handle the request."""

    http_status = 500


_BY_STATUS = {cls.http_status: cls for cls in (
    BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    RequestEntityTooLarge, ServerError)}


def _reason(code):
    try:
        return http.HTTPStatus(code).phrase
    except (TypeError, ValueError):
        return ''


def _message_from_body(resp):
    """Return (title, message) from an error body in any shape we know."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get('error')
        if isinstance(error, dict):
            return error.get('title'), error.get('message')
        if isinstance(error, str):
            return None, error
        # WSME reports its own validation errors in this shape.
        if isinstance(body.get('faultstring'), str):
            return None, body['faultstring']
        if isinstance(body.get('message'), str):
            return body.get('title'), body['message']
    text = (resp.text or '').strip()
    # A proxy's HTML error page says nothing the status line does not.
    if text and not text.startswith('<'):
        return None, text.splitlines()[0][:300]
    return None, None


def from_response(resp, method=None, url=None):
    """Build the exception that describes an HTTP error response."""
    code = resp.status_code
    title, message = _message_from_body(resp)
    if code in _BY_STATUS:
        cls = _BY_STATUS[code]
    elif code >= 500:
        cls = ServerError
    else:
        cls = HttpError
    return cls(code=code, title=title or resp.reason, message=message,
               request_id=resp.headers.get('x-openstack-request-id'),
               method=method, url=url)
