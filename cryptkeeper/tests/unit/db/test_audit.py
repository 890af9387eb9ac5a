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

"""The audit chain: appends, verification and tamper detection."""

import threading

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests import base


class AuditChainTestCase(base.DbTestCase):

    def _append(self, n, **kw):
        for i in range(n):
            self.dbapi.append_audit(records.entry(
                self.context, 'test.%d' % i, details={'i': i, 'u': 'é'},
                **kw))

    def _tamper(self, fn):
        with sqla_api.main_context.writer.using(self) as session:
            fn(session.query(models.AuditRecord))

    def test_intact_chain_verifies(self):
        self._append(25)
        result = verify.verify(self.dbapi, page=7)
        self.assertEqual({'valid': True, 'records': 25,
                          'first_broken': None, 'reason': None},
                         {k: result[k] for k in ('valid', 'records',
                                                 'first_broken', 'reason')})
        self.assertEqual(self.dbapi.audit_head()[1], result['head'])

    def test_edited_record_is_named(self):
        self._append(10)
        self._tamper(lambda q: q.filter_by(id=4).update({'reason': 'x'}))
        result = verify.verify(self.dbapi)
        self.assertFalse(result['valid'])
        self.assertEqual(4, result['first_broken'])

    def test_removed_middle_record_is_named(self):
        self._append(10)
        self._tamper(lambda q: q.filter_by(id=6).delete())
        result = verify.verify(self.dbapi)
        self.assertEqual((False, 7), (result['valid'],
                                      result['first_broken']))

    def test_removed_last_record_is_detected(self):
        self._append(5)
        self._tamper(lambda q: q.filter_by(id=5).delete())
        result = verify.verify(self.dbapi)
        self.assertEqual((False, 5), (result['valid'],
                                      result['first_broken']))

    def test_rehashed_forgery_breaks_the_next_link(self):
        self._append(6)
        from cryptkeeper.audit import chain

        def forge(q):
            row = q.filter_by(id=3).one()
            row.outcome = 'failure'
            row.hash = chain.compute_hash(row.as_dict(), row.prev_hash)
        self._tamper(forge)
        result = verify.verify(self.dbapi)
        self.assertEqual(4, result['first_broken'])

    def test_concurrent_appenders_keep_one_chain(self):
        errors = []

        def writer(n):
            try:
                for i in range(15):
                    self.dbapi.append_audit(records.entry(
                        None, 'thread.%d' % n, details={'i': i}))
            except Exception as exc:  # report, do not hide, thread errors
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        result = verify.verify(self.dbapi)
        self.assertTrue(result['valid'], result)
        self.assertEqual(60, result['records'])
