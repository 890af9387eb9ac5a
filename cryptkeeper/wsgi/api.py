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

"""The API as a WSGI application: ``cryptkeeper.wsgi.api:application``.

Config files come from ``$CRYPTKEEPER_CONFIG_FILE`` (several separated by
commas) or the usual /etc/cryptkeeper/cryptkeeper.conf lookup. The WSGI
server's own command line is never parsed as cryptkeeper's.
"""

import os
import threading

from cryptkeeper.api import app as api_app
from cryptkeeper.common import service

CONFIG_ENV = 'CRYPTKEEPER_CONFIG_FILE'

_config_lock = threading.Lock()
application = None


def _config_files():
    value = os.environ.get(CONFIG_ENV)
    if not value:
        return None
    return [f.strip() for f in value.split(',') if f.strip()]


def init_application():
    """Parse the configuration and build the application."""
    service.prepare_service(argv=[], default_config_files=_config_files())
    app = api_app.setup_app()
    service.freeze_startup_heap()
    return app


# Servers may import this module from several threads at once; the
# configuration must be parsed exactly once.
with _config_lock:
    if application is None:
        application = init_application()
