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

"""Keystone WSGI entry point for gunicorn, used by the Keystone fixture.

The fixture copies this file next to the keystone.conf it writes and runs it
inside Keystone's own virtualenv, so it must import nothing from cryptkeeper.
"""

import os
import sys

# Keystone parses sys.argv while loading its configuration, and gunicorn's
# own arguments make every worker exit with "unrecognized arguments".
sys.argv = sys.argv[:1]

# The configuration sits beside this copy of the module unless the caller
# says otherwise.
os.environ.setdefault(
    'OS_KEYSTONE_CONFIG_FILES',
    os.path.join(os.path.dirname(os.path.abspath(__file__)), 'keystone.conf'))

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
