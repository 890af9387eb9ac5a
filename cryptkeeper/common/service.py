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

"""Process start-up shared by every command: logging and configuration."""

import gc

from oslo_log import log

from cryptkeeper import conf
from cryptkeeper.conf import targets
from cryptkeeper import version

CONF = conf.CONF


def prepare_service(argv=None, default_config_files=None):
    """Parse the command line and config files and set up logging.

    :param argv: arguments without the program name; ``[]`` keeps
        oslo.config away from a WSGI server's own argv.
    """
    log.register_options(CONF)
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'alembic=WARNING', 'tooz=WARNING', 'keystonemiddleware=INFO'])
    CONF(argv if argv is not None else [], project='cryptkeeper',
         version=version.version_string(),
         default_config_files=default_config_files)
    targets.register_target_opts(CONF)
    log.setup(CONF, 'cryptkeeper')


def freeze_startup_heap():
    """Keep the objects loaded at start-up out of the garbage collector.

    They live as long as the process; left in the collector's reach, every
    full collection rescans them and stalls whichever request triggers it
    (the API benchmark saw p99 triple from this alone).
    """
    gc.collect()
    gc.freeze()
