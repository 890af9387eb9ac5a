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

"""A real HTTP server on 127.0.0.1 that answers with canned JSON."""

import collections
import functools
import http.server
import json
import threading
from urllib import parse

import fixtures

Request = collections.namedtuple(
    'Request', ['method', 'path', 'query', 'body', 'headers'])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def __init__(self, api, *args, **kwargs):
        self.api = api
        super().__init__(*args, **kwargs)

    def _handle(self):
        url = parse.urlsplit(self.path)
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        request = Request(
            method=self.command, path=url.path,
            query=dict(parse.parse_qsl(url.query)),
            body=json.loads(raw) if raw else None,
            headers={k.lower(): v for k, v in self.headers.items()})
        self.api.requests.append(request)
        status, body, headers = self.api.answer(request)
        if callable(body):
            body = body(request)
        if isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
            headers = dict({'Content-Type': 'application/json'}, **headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, *args):
        pass


class FakeAPI(fixtures.Fixture):
    """Serves queued answers per (method, path) and records each request."""

    def _setUp(self):
        self.routes = {}
        self.requests = []
        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), functools.partial(_Handler, self))
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]

    def add(self, method, path, body=None, status=200, headers=None):
        """Queue an answer; the last one queued for a route repeats."""
        self.routes.setdefault((method, path), []).append(
            (status, body, dict(headers or {})))

    def answer(self, request):
        queue = self.routes.get((request.method, request.path))
        if not queue:
            return 404, {'error': {
                'code': 404, 'title': 'Not Found',
                'message': 'no canned answer for %s %s'
                           % (request.method, request.path)}}, {}
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def calls(self, method=None, path=None):
        """The recorded requests, optionally for one method and path."""
        return [r for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.path == path)]
