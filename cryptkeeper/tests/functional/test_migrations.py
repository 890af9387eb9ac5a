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

"""Models and alembic migrations agree, on SQLite, MariaDB and PostgreSQL."""

from oslo_db.sqlalchemy import test_migrations

from cryptkeeper.db.sqlalchemy import migration
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.functional import db_base


class _ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):

    def get_metadata(self):
        return models.Base.metadata

    def get_engine(self):
        return self.engine

    def db_sync(self, engine):
        migration.upgrade('head', engine=engine)

    def test_upgrade_leaves_chain_head_and_revision(self):
        self.db_sync(self.engine)
        self.assertEqual(migration.head(),
                         migration.version(engine=self.engine))
        with self.engine.connect() as conn:
            head = conn.exec_driver_sql(
                'SELECT id, last_id, last_hash FROM audit_head').all()
        self.assertEqual([(1, 0, '0' * 64)], [tuple(r) for r in head])

    def test_sync_is_idempotent(self):
        self.db_sync(self.engine)
        self.db_sync(self.engine)
        self.assertEqual(migration.head(),
                         migration.version(engine=self.engine))


class TestModelsMigrationsSQLite(_ModelsMigrationsSync,
                                 db_base.OpportunisticTestCase):
    pass


class TestModelsMigrationsMySQL(db_base.MySQLMixin, _ModelsMigrationsSync,
                                db_base.OpportunisticTestCase):
    pass


class TestModelsMigrationsPostgreSQL(db_base.PostgreSQLMixin,
                                     _ModelsMigrationsSync,
                                     db_base.OpportunisticTestCase):
    pass
