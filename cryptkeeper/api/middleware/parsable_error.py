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

"""Turn every error response into the API's JSON error document."""

import html
import json
import re

from oslo_log import log
import webob
import webob.exc

LOG = log.getLogger(__name__)

_TAGS = re.compile(r'<[^>]+>')
_SPACE = re.compile(r'\s+')


def _title(code):
    cls = webob.exc.status_map.get(code)
    return cls.title if cls is not None else 'Error'


def _message(resp, title):
    """Find the human message in whatever body the inner layer wrote."""
    body = resp.body
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        # WSME's fault document, keystonemiddleware's and webob's error
        # documents respectively.
        if isinstance(doc.get('faultstring'), str):
            return doc['faultstring']
        err = doc.get('error')
        if isinstance(err, dict) and isinstance(err.get('message'), str):
            return err['message']
        if isinstance(doc.get('message'), str):
            return doc['message']
    text = body.decode('utf-8', 'replace')
    text = _SPACE.sub(' ', html.unescape(_TAGS.sub(' ', text))).strip()
    # webob's pages repeat the status line before the explanation.
    for prefix in ('%d %s' % (resp.status_code, title), title):
        while text.startswith(prefix):
            text = text[len(prefix):].strip()
    return text or title


class ParsableErrorMiddleware:
    """Errors as {"error": {"code", "title", "message"}}, never HTML.

    A 500 never shows what went wrong inside, only the request id to
    find it in the log, so no traceback or internal detail leaks.
    """

    def __init__(self, app, allowed_methods=None):
        self._app = app
        self._allowed_methods = allowed_methods

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        try:
            resp = req.get_response(self._app)
        except Exception:
            LOG.exception('Unhandled error in the API')
            resp = webob.Response(status=500)
        if resp.status_code >= 400:
            self._rewrite(resp, environ)
        return resp(environ, start_response)

    def _wrong_method(self, resp, environ):
        """Whether the route exists but not for this method.

        pecan answers some of these with 404 (a GET of a POST-only
        action), and its Allow header is wrong for custom actions; the
        route table knows better.
        """
        if self._allowed_methods is None or resp.status_code not in (404,
                                                                     405):
            return False
        allowed = self._allowed_methods(environ.get('PATH_INFO'))
        method = environ.get('REQUEST_METHOD', 'GET')
        if not allowed or method in allowed:
            return False
        resp.status = 405
        resp.headers['Allow'] = ', '.join(allowed)
        resp.body = json.dumps({'message': 'The method %s is not allowed '
                                'for this resource.' % method}).encode()
        return True

    def _rewrite(self, resp, environ):
        self._wrong_method(resp, environ)
        code = resp.status_code
        title = _title(code)
        if code == 500:
            message = ('The server could not complete the request; its '
                       'log has the details under request id %s.'
                       % environ.get('openstack.request_id', '-'))
        else:
            message = _message(resp, title)
        resp.body = json.dumps({'error': {
            'code': code, 'title': title, 'message': message}}).encode()
        resp.content_type = 'application/json'
