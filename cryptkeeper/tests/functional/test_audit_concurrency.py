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

"""Appends from several processes at once never fork or break the chain."""

import multiprocessing

from cryptkeeper.audit import verify
from cryptkeeper.db import api as db_api
from cryptkeeper.db.sqlalchemy import migration
from cryptkeeper.tests.functional import db_base

PROCESSES = 4
APPENDS = 40


def _appender(url, n, start):
    # A separate process, as API and worker processes are in production:
    # its own engine, its own connections.
    from cryptkeeper.audit import records
    from cryptkeeper import conf
    from cryptkeeper.db import api as db_api

    conf.CONF([], project='cryptkeeper', default_config_files=[])
    conf.CONF.set_override('connection', url, group='database')
    dbapi = db_api.get_instance()
    start.wait()
    for i in range(APPENDS):
        dbapi.append_audit(records.entry(
            None, 'test.concurrent', details={'process': n, 'i': i}))


class _ConcurrentAppends:

    def test_concurrent_processes_keep_one_chain(self):
        migration.upgrade('head', engine=self.engine)
        url = self.engine.url.render_as_string(hide_password=False)
        ctx = multiprocessing.get_context('spawn')
        start = ctx.Event()
        procs = [ctx.Process(target=_appender, args=(url, n, start))
                 for n in range(PROCESSES)]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(120)
        self.assertEqual([0] * PROCESSES, [p.exitcode for p in procs])

        # The opportunistic fixture already points cryptkeeper's
        # transaction context at this database.
        result = verify.verify(db_api.get_instance(), page=33)
        self.assertTrue(result['valid'], result)
        self.assertEqual(PROCESSES * APPENDS, result['records'])


class TestConcurrentAppendsMySQL(db_base.MySQLMixin, _ConcurrentAppends,
                                 db_base.OpportunisticTestCase):
    pass


class TestConcurrentAppendsPostgreSQL(db_base.PostgreSQLMixin,
                                      _ConcurrentAppends,
                                      db_base.OpportunisticTestCase):
    pass
