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

"""cryptkeeper-api: serve the API in a pure-Python threaded server."""

import signal
import socket
import socketserver
import sys
from wsgiref import simple_server

from oslo_log import log

from cryptkeeper.api import app as api_app
from cryptkeeper.common import service
from cryptkeeper import conf
from cryptkeeper.worker import service as worker_service

CONF = conf.CONF
LOG = log.getLogger(__name__)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(simple_server.WSGIRequestHandler):

    def log_message(self, fmt, *args):
        # Into the service log with the other lines, not onto stderr.
        LOG.info('%s %s', self.address_string(), fmt % args)


def listen_host():
    """[api] host, else loopback only when nobody is authenticated."""
    if CONF.api.host:
        return CONF.api.host
    return '127.0.0.1' if CONF.api.auth_strategy == 'noauth' else '0.0.0.0'


def make_server(host, port, app):
    server_class = _Server
    if ':' in host:
        server_class = type('_Server6', (_Server,),
                            {'address_family': socket.AF_INET6})
    return simple_server.make_server(host, port, app,
                                     server_class=server_class,
                                     handler_class=_Handler)


def main(argv=None):
    service.prepare_service(sys.argv[1:] if argv is None else argv)
    if CONF.api.auth_strategy == 'noauth':
        LOG.warning('Authentication is disabled ([api] auth_strategy = '
                    'noauth): every request acts as admin. For local '
                    'use only.')
    app = api_app.setup_app()
    host, port = listen_host(), CONF.api.port
    server = make_server(host, port, app)
    worker = None
    if CONF.api.run_worker:
        worker = worker_service.Worker(CONF.host)
        worker.start()

    def _stop(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, _stop)
    service.freeze_startup_heap()
    LOG.info('cryptkeeper-api serving on http://%s:%d', host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        LOG.info('cryptkeeper-api stopping')
    finally:
        server.server_close()
        if worker is not None:
            worker.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
