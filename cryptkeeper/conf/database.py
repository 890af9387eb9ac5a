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

"""Options of the [database] group (oslo.db), with a SQLite default."""

from oslo_config import cfg
from oslo_db import options as db_options

_DEFAULT_CONNECTION = 'sqlite:///$state_path/cryptkeeper.sqlite'


def register_opts(conf):
    db_options.set_defaults(conf, connection=_DEFAULT_CONNECTION)


def list_opts():
    # oslo.db lists [database] under its own namespace; listing
    # connection here too would document it twice.
    return {}


def update_opt_defaults():
    """oslo.config.opts.defaults hook: the generators show our default."""
    # set_default() on a ConfigOpts would not reach the generator, which
    # reads the default from the option objects themselves.
    cfg.set_defaults(db_options.database_opts,
                     connection=_DEFAULT_CONNECTION)
