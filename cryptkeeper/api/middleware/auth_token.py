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

"""Keystone token validation, with public routes left open."""

import re

from keystonemiddleware import auth_token

from cryptkeeper.api.middleware import identity


class AuthTokenMiddleware(auth_token.AuthProtocol):
    """auth_token that lets version discovery and the API document through.

    Clients need the versions, the v1 root and the OpenAPI document
    before they hold a token; nothing else is reachable without one.
    """

    def __init__(self, app, conf, public_api_routes=()):
        self._public_routes = [re.compile(r'^%s/?$' % re.escape(r.rstrip(
            '/'))) for r in public_api_routes]
        super().__init__(app, conf)
        # Without it keystonemiddleware fails while building every 401,
        # and clients would see a 500; refuse to start instead.
        if not self._conf.get('www_authenticate_uri'):
            raise ValueError(
                '[keystone_authtoken] www_authenticate_uri is not set; it '
                'is the Keystone URL that 401 responses point clients to.')

    def _is_public(self, path):
        return any(r.match(path or '/') for r in self._public_routes)

    def __call__(self, env, start_response):
        if self._is_public(env.get('PATH_INFO')):
            # Nobody was authenticated, so a client's own identity
            # headers must not reach the context.
            identity.strip(env)
            env['is_public_api'] = True
            return self._app(env, start_response)
        return super().__call__(env, start_response)
