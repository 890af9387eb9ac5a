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

"""Identity headers: removing forged ones and the noauth persona."""

# WSGI environ prefixes of the headers auth_token sets from a token.
_PREFIXES = ('HTTP_X_USER', 'HTTP_X_PROJECT', 'HTTP_X_TENANT',
             'HTTP_X_DOMAIN', 'HTTP_X_ROLE', 'HTTP_X_SERVICE_',
             'HTTP_X_IDENTITY_STATUS', 'HTTP_X_SYSTEM',
             'HTTP_OPENSTACK_SYSTEM_SCOPE', 'HTTP_X_IS_ADMIN_PROJECT')

NOAUTH_USER = 'noauth'


def strip(env):
    """Remove identity headers a client sent on its own."""
    for key in [k for k in env if k.startswith(_PREFIXES)]:
        del env[key]


class NoAuthMiddleware:
    """Every request acts as a system-scoped admin named 'noauth'.

    For local use only: cryptkeeper-api warns at start and listens on
    127.0.0.1 unless told otherwise.
    """

    def __init__(self, app):
        self._app = app

    def __call__(self, env, start_response):
        strip(env)
        env.update({
            'HTTP_X_IDENTITY_STATUS': 'Confirmed',
            'HTTP_X_USER_ID': NOAUTH_USER,
            'HTTP_X_USER_NAME': NOAUTH_USER,
            'HTTP_X_ROLES': 'admin,member,reader',
            'HTTP_OPENSTACK_SYSTEM_SCOPE': 'all',
        })
        return self._app(env, start_response)
