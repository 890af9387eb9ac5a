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

"""Opportunistic MariaDB/PostgreSQL test bases (user openstack_citest).

``tools/test-setup.sh`` creates the openstack_citest user and database
on the local servers. Outside CI a missing server skips the test; with
``CI`` set in the environment it fails, so a broken CI machine can never
pass by running nothing.
"""

import os

from oslo_db.sqlalchemy import test_fixtures

from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.tests import base

REQUIRE_BACKENDS = bool(os.environ.get('CI') or
                        os.environ.get('CRYPTKEEPER_REQUIRE_BACKENDS'))


class _FacadeMixin:
    # cryptkeeper has its own transaction context rather than oslo.db's
    # global one, so that is what the fixture must patch.
    def get_enginefacade(self):
        return sqla_api.main_context


class SQLiteFixture(_FacadeMixin, test_fixtures.OpportunisticDbFixture):
    pass


class MySQLFixture(_FacadeMixin, test_fixtures.MySQLOpportunisticFixture):
    pass


class PostgreSQLFixture(_FacadeMixin,
                        test_fixtures.PostgresqlOpportunisticFixture):
    pass


class OpportunisticTestCase(test_fixtures.OpportunisticDBTestMixin,
                            base.TestCase):
    """A test on a freshly provisioned database of ``FIXTURE``'s kind."""

    SKIP_ON_UNAVAILABLE_DB = not REQUIRE_BACKENDS
    FIXTURE = SQLiteFixture

    def setUp(self):
        super().setUp()
        self.engine = sqla_api.prepare_engine(
            self._get_default_provisioned_db().engine)


class MySQLMixin:
    FIXTURE = MySQLFixture


class PostgreSQLMixin:
    FIXTURE = PostgreSQLFixture
