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

"""Base classes of cryptkeeper's tests."""

import fixtures
import testtools

from cryptkeeper.common import context
from cryptkeeper.db import api as db_api
from cryptkeeper.tests.local_fixtures import conf as conf_fixture
from cryptkeeper.tests.local_fixtures import db as db_fixture


class TestCase(testtools.TestCase):
    """A test with its own configuration and state directory."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.useFixture(fixtures.NestedTempfile())
        self.conf_fixture = self.useFixture(conf_fixture.ConfFixture())
        self.config = self.conf_fixture.config.config
        self.context = context.RequestContext(
            user_id='admin-user', project_id='admin-project',
            roles=['admin'], request_id='req-test', overwrite=False)


class DbTestCase(TestCase):
    """A test with a real SQLite database carrying cryptkeeper's schema."""

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(db_fixture.Database())
        self.dbapi = db_api.get_instance()

    @staticmethod
    def all_pages(list_rows, limit, **kwargs):
        """Every row of a dbapi listing, ``limit`` a page, by marker."""
        rows, marker = [], None
        while True:
            page = list_rows(limit=limit, marker=marker, **kwargs)
            if not page:
                return rows
            rows.extend(page)
            marker = page[-1].uuid
