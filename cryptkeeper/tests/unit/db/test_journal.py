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

"""The purge journal in the database: durable, paged and fenced."""


import sqlalchemy as sa

from cryptkeeper.audit import records
from cryptkeeper.common import exception
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.purge import journal
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.worker import journal as db_journal
from cryptkeeper.worker import progress as ck_progress


def _batch(seq, root='instances', marker=None, n=2):
    keys = {root: [[seq * 10 + i] for i in range(n)],
            'instance_metadata': [[seq * 100 + i] for i in range(2 * n)]}
    return journal.Batch(
        seq=seq, root=root, marker=marker or [seq * 10 + n - 1], keys=keys,
        counts={root: n, 'instance_metadata': 2 * n},
        checksums={root: 'a' * 64}, location={'kind': 'shadow'},
        followup={'nova_api': {'instance_mappings': [[seq]]}})


class JournalTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.job = self._claimed('worker-1')

    def _claimed(self, worker):
        self.dbapi.create_job(
            {'type': 'purge', 'target': 'nova', 'params': {}},
            records.entry(self.context, 'job.create'))
        return self.dbapi.claim_job(worker, 60)

    def _journal(self, job=None, progress=None, **kw):
        job = job or self.job
        return db_journal.DbJournal.for_run(self.dbapi, job, job.worker,
                                            progress=progress, **kw)

    def _rows(self):
        with sqla_api.get_engine().connect() as conn:
            return conn.execute(sa.select(models.PurgeBatch.__table__)
                                ).all()

    def test_prepare_then_done_round_trip(self):
        j = self._journal()
        b = _batch(1)
        j.prepare(b)
        self.assertEqual([1], [p.seq for p in j.pending()])
        self.assertEqual([], list(j.batches()))
        j.done(b)
        self.assertEqual([], j.pending())
        [got] = list(j.batches())
        self.assertEqual(dict(b.to_dict(), state=journal.DONE),
                         got.to_dict())
        self.assertEqual({'instances': [11]}, j.last_marker())
        self.assertEqual(2, j.next_seq())
        self.assertEqual({'instances': 2, 'instance_metadata': 4},
                         j.totals())

    def test_batches_are_paged_in_seq_order(self):
        j = self._journal()
        total = db_journal.PAGE * 2 + 3
        for seq in range(1, total + 1):
            b = _batch(seq)
            j.prepare(b)
            j.done(b)
        calls = []
        real = self.dbapi.journal_batches

        def spy(*args, **kwargs):
            calls.append(kwargs['limit'])
            return real(*args, **kwargs)
        self.dbapi.journal_batches = spy
        self.addCleanup(delattr, self.dbapi, 'journal_batches')
        seqs = [b.seq for b in j.batches()]
        self.assertEqual(list(range(1, total + 1)), seqs)
        self.assertEqual([db_journal.PAGE] * 3, calls)
        self.assertEqual({'instances': [total * 10 + 1]}, j.last_marker())

    def test_reprepare_replaces_a_prepared_batch(self):
        j = self._journal()
        j.prepare(_batch(1, n=2))
        j.prepare(_batch(1, n=3))
        [got] = j.pending()
        self.assertEqual(3, got.counts['instances'])
        self.assertEqual(1, len(self._rows()))

    def test_prepare_of_a_done_batch_is_refused(self):
        j = self._journal()
        b = _batch(1)
        j.prepare(b)
        j.done(b)
        self.assertRaises(exception.JournalConflict, j.prepare, _batch(1))
        [got] = list(j.batches())
        self.assertEqual(journal.DONE, got.state)

    def test_done_stores_progress_with_the_batch(self):
        seen = []

        def on_done(batch):
            seen.append(batch.seq)
            return {'tables': {'instances': {'deleted': 2}}}
        j = self._journal(on_done=on_done)
        b = _batch(1)
        j.prepare(b)
        j.done(b)
        self.assertEqual([1], seen)
        self.assertEqual({'tables': {'instances': {'deleted': 2}}},
                         self.dbapi.get_job(self.job.uuid).progress)

    def test_scopes_are_separate_journals(self):
        cell1 = self._journal(scope='cell1')
        cell2 = self._journal(scope='cell2')
        for j, n in ((cell1, 2), (cell2, 3)):
            b = _batch(1, n=n)
            j.prepare(b)
            j.done(b)
        self.assertEqual({'instances': 2, 'instance_metadata': 4},
                         cell1.totals())
        self.assertEqual({'instances': 3, 'instance_metadata': 6},
                         cell2.totals())
        self.assertEqual(2, len(self.dbapi.journal_batches(self.job.uuid)))

    def test_lost_lease_cannot_write(self):
        progress = ck_progress.Progress()
        j = self._journal(progress=progress)
        first = _batch(1)
        j.prepare(first)
        thief = helpers.steal(self.dbapi, self.job)
        before = self._rows()
        self.assertRaises(exception.LeaseLost, j.done, first)
        self.assertEqual(ck_progress.Progress.LEASE_LOST, progress.reason)
        self.assertRaises(exception.LeaseLost, j.prepare, _batch(2))
        self.assertEqual(before, self._rows())
        # The new owner sees the old attempt's batch as pending and may
        # settle it under its own lease.
        mine = self._journal(job=thief)
        [pending] = mine.pending()
        self.assertEqual(1, pending.seq)
        mine.done(pending)
        self.assertEqual([1], [b.seq for b in mine.batches()])

    def test_finished_job_cannot_write(self):
        j = self._journal()
        self.dbapi.finish_job(self.job.id, self.job.worker,
                              self.job.lease_version, 'succeeded', {}, {},
                              records.entry(None, 'job.finish'))
        self.assertRaises(exception.LeaseLost, j.prepare, _batch(1))
        self.assertEqual([], self._rows())

    def test_mark_restored_is_fenced_by_the_restoring_job(self):
        archive = self._journal()
        for seq in (1, 2):
            b = _batch(seq)
            archive.prepare(b)
            archive.done(b)
        self.dbapi.finish_job(self.job.id, self.job.worker,
                              self.job.lease_version, 'succeeded', {}, {},
                              records.entry(None, 'job.finish'))
        restorer = self._claimed('worker-2')
        fence = (restorer.id, restorer.worker, restorer.lease_version)
        j = db_journal.DbJournal(self.dbapi, self.job.uuid, fence,
                                 self.job.target)
        [first, second] = list(j.batches())
        j.mark_restored(first)
        self.assertEqual(journal.RESTORED, first.state)
        self.assertEqual([2], [b.seq for b in j.batches()])
        self.assertEqual([1], [b.seq for b in
                               j.batches(state=journal.RESTORED)])
        # The restoring job loses its lease: it cannot mark more.
        helpers.steal(self.dbapi, restorer)
        self.assertRaises(exception.LeaseLost, j.mark_restored, second)
        self.assertEqual([2], [b.seq for b in j.batches()])

    def test_batches_of_a_job_with_no_journal(self):
        self.assertEqual([], self.dbapi.journal_batches('no-such-job'))
