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

"""A real SQLite database file per test, with cryptkeeper's schema."""

import os

import fixtures
from oslo_db.sqlalchemy import engines

from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models


class Database(fixtures.Fixture):
    """Patch cryptkeeper's engine with a fresh file-backed SQLite one.

    A file rather than :memory: so that several threads, as in the
    quickstart's API and worker, each get their own connection.
    """

    def __init__(self, url=None):
        super().__init__()
        self.url = url

    def _setUp(self):
        url = self.url
        if url is None:
            tmp = self.useFixture(fixtures.TempDir()).path
            url = 'sqlite:///' + os.path.join(tmp, 'cryptkeeper.sqlite')
        self.engine = sqla_api.prepare_engine(engines.create_engine(url))
        models.Base.metadata.create_all(self.engine)
        self.addCleanup(sqla_api.main_context.patch_engine(self.engine))
        with sqla_api.main_context.writer.using(_Ctx()) as session:
            sqla_api.ensure_audit_head(session)
        self.addCleanup(self.engine.dispose)


class _Ctx:
    """A bare transaction holder for set-up code outside any request."""
