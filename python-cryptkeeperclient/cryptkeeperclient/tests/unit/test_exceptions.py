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

"""Tests for turning error responses into one-line exceptions."""

import requests
import testtools

from cryptkeeperclient import exceptions


def response(status, body=b'', content_type='application/json',
             reason=None, headers=None):
    resp = requests.Response()
    resp.status_code = status
    resp.reason = reason
    resp._content = body
    resp.headers['Content-Type'] = content_type
    resp.headers.update(headers or {})
    return resp


class FromResponseTest(testtools.TestCase):

    def test_api_error_body(self):
        exc = exceptions.from_response(response(
            404, b'{"error": {"code": 404, "title": "Not Found", '
                 b'"message": "Job 1234 could not be found"}}',
            headers={'x-openstack-request-id': 'req-9'}))
        self.assertIsInstance(exc, exceptions.NotFound)
        self.assertEqual('404 Not Found: Job 1234 could not be found',
                         str(exc))
        self.assertEqual(404, exc.code)
        self.assertEqual('req-9', exc.request_id)

    def test_each_known_status_has_its_class(self):
        for status, cls in [(400, exceptions.BadRequest),
                            (401, exceptions.Unauthorized),
                            (403, exceptions.Forbidden),
                            (409, exceptions.Conflict),
                            (413, exceptions.RequestEntityTooLarge),
                            (503, exceptions.ServerError),
                            (418, exceptions.HttpError)]:
            exc = exceptions.from_response(response(status))
            self.assertIs(cls, type(exc), status)
            self.assertEqual(status, exc.code)

    def test_multi_line_message_becomes_one_line(self):
        exc = exceptions.from_response(response(
            400, b'{"error": {"title": "Bad Request", '
                 b'"message": "limit must be\\n  at most 1000"}}'))
        self.assertEqual('400 Bad Request: limit must be at most 1000',
                         str(exc))

    def test_wsme_fault_body(self):
        exc = exceptions.from_response(response(
            400, b'{"faultcode": "Client", "faultstring": '
                 b'"Invalid input for field/attribute limit.", '
                 b'"debuginfo": null}'))
        self.assertEqual(
            '400 Bad Request: Invalid input for field/attribute limit.',
            str(exc))

    def test_plain_text_body_first_line(self):
        exc = exceptions.from_response(response(
            500, b'database is locked\nTraceback (most recent call last)',
            content_type='text/plain'))
        self.assertEqual('500 Internal Server Error: database is locked',
                         str(exc))

    def test_html_body_is_not_shown(self):
        exc = exceptions.from_response(response(
            502, b'<html><body><h1>502 Bad Gateway</h1></body></html>',
            content_type='text/html', reason='Bad Gateway'))
        self.assertEqual('502 Bad Gateway', str(exc))

    def test_empty_body_uses_reason_phrase(self):
        exc = exceptions.from_response(response(409))
        self.assertEqual('409 Conflict', str(exc))


class ClientExceptionTest(testtools.TestCase):

    def test_default_message_is_the_docstring(self):
        self.assertEqual('No endpoint for the cleanup service was found.',
                         str(exceptions.EndpointNotFound()))

    def test_message_is_one_line(self):
        self.assertEqual('a b c',
                         str(exceptions.CommandError('a\n  b\tc')))
