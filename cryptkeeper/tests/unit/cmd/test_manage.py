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

"""cryptkeeper-manage: db sync/version and audit verify exit codes."""

import os

import fixtures
from oslo_db.sqlalchemy import enginefacade

from cryptkeeper.audit import records
from cryptkeeper.cmd import manage
from cryptkeeper import conf
from cryptkeeper.db import api as db_api
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests import base


class ManageTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        path = os.path.join(self.conf_fixture.state_path, 'ck.sqlite')
        self.config_file = os.path.join(self.conf_fixture.state_path,
                                        'ck.conf')
        with open(self.config_file, 'w') as f:
            f.write('[database]\nconnection = sqlite:///%s\n' % path)
        self.addCleanup(conf.CONF.unregister_opt, manage.command_opt)
        self.addCleanup(conf.CONF.reset)
        # A fresh transaction context, configured from this test's file:
        # the global one may already be started by an earlier test.
        self.useFixture(fixtures.MockPatchObject(
            sqla_api, 'main_context', enginefacade.transaction_context()))

    def _manage(self, *args):
        conf.CONF.reset()
        return manage.main(['--config-file', self.config_file] + list(args))

    def test_sync_then_verify_then_tamper(self):
        self.assertEqual(0, self._manage('db', 'sync'))
        dbapi = db_api.get_instance()
        for i in range(3):
            dbapi.append_audit(records.entry(None, 'test.%d' % i))
        self.assertEqual(0, self._manage('audit', 'verify'))
        with sqla_api.main_context.writer.using(self) as session:
            session.query(models.AuditRecord).filter_by(id=2).update(
                {'outcome': 'failure'})
        self.assertEqual(1, self._manage('audit', 'verify'))
