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

"""Assemble the WSGI application: pecan plus its middleware."""

from oslo_log import log
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
import pecan

from cryptkeeper.api import config as api_config
from cryptkeeper.api import hooks
from cryptkeeper.api.middleware import auth_token
from cryptkeeper.api.middleware import body_limit
from cryptkeeper.api.middleware import identity
from cryptkeeper.api.middleware import parsable_error
from cryptkeeper.api import openapi
from cryptkeeper import conf

CONF = conf.CONF
LOG = log.getLogger(__name__)

# Tests only: identity headers from the client are taken as if
# auth_token had set them. No configuration option can select this.
TRUSTED_HEADERS = 'trusted-headers'


def _pecan_app():
    cfg = dict(api_config.PECAN)
    return pecan.make_app(cfg.pop('root'),
                          hooks=[hooks.ContextHook(), hooks.JsonHook(),
                                 hooks.DBHook()],
                          **cfg)


def setup_app(auth_strategy=None):
    """Return the API as a WSGI application.

    :param auth_strategy: defaults to ``[api] auth_strategy``.
    """
    strategy = auth_strategy or CONF.api.auth_strategy
    app = _pecan_app()
    if strategy == 'keystone':
        app = auth_token.AuthTokenMiddleware(
            app, {'oslo_config_config': CONF},
            public_api_routes=api_config.PUBLIC_ROUTES)
    elif strategy == 'noauth':
        app = identity.NoAuthMiddleware(app)
    elif strategy != TRUSTED_HEADERS:
        raise ValueError('unknown auth strategy %r' % strategy)
    # NOTE: the size check sits outside authentication so an oversize
    # body is refused before anything reads it.
    app = body_limit.BodySizeLimit(app, CONF.api.max_request_body_size)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, CONF)
    # NOTE: error rewriting sits inside RequestId, so the JSON errors,
    # 401s and 413s all carry x-openstack-request-id too.
    app = parsable_error.ParsableErrorMiddleware(
        app, allowed_methods=openapi.allowed_methods)
    return request_id.RequestId(app)
