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

"""alembic-driven schema management of cryptkeeper's database."""

import os

import alembic
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from cryptkeeper.db.sqlalchemy import api as sqla_api

_INI = os.path.join(os.path.dirname(__file__), 'alembic.ini')


def _config(connection):
    cfg = alembic_config.Config(_INI)
    cfg.attributes['connection'] = connection
    return cfg


def _engine(engine):
    return engine if engine is not None else sqla_api.get_engine()


def upgrade(revision='head', engine=None):
    """Upgrade the schema to ``revision``."""
    with _engine(engine).begin() as connection:
        alembic.command.upgrade(_config(connection), revision or 'head')


def version(engine=None):
    """Return the current revision, or None for an empty database."""
    with _engine(engine).connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()


def stamp(revision, engine=None):
    """Record ``revision`` as current without running migrations."""
    with _engine(engine).begin() as connection:
        alembic.command.stamp(_config(connection), revision)


def head():
    """Return the newest revision the code knows."""
    return alembic_script.ScriptDirectory.from_config(
        alembic_config.Config(_INI)).get_current_head()
