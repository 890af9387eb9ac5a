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

"""The purge journal in cryptkeeper's database, fenced by the job's lease."""

from cryptkeeper.common import exception
from cryptkeeper.purge import journal
from cryptkeeper.worker import progress as ck_progress

# Batches read per query when iterating a journal: a batch carries the
# keys of every row it moved, so a long job's journal is not read whole.
PAGE = 20


class DbJournal(journal.Journal):
    """The batches of one purge job, written only by its current lease.

    :param owner: the job whose batches these are (its uuid).
    :param fence: ``(job_id, worker, lease_version)`` of the job doing
        the writing: the owner itself for archive, or the restore job
        that puts an archive job's rows back.
    :param scope: the target whose rows the batches hold; a job fanned
        out over several cells keeps one journal per cell target.
    :param progress: the running job's Progress; a lost lease found on a
        write interrupts it, so the runner stops without writing more.
    :param on_done: callable returning the progress to store with each
        done batch, so the job row's counts move with the journal.
    """

    def __init__(self, dbapi, owner, fence, scope, progress=None,
                 on_done=None):
        self.dbapi = dbapi
        self.owner = owner
        self.scope = scope
        self.job_id, self.worker, self.lease_version = fence
        self.progress = progress
        self.on_done = on_done

    @classmethod
    def for_run(cls, dbapi, job, worker, scope=None, progress=None,
                on_done=None):
        """The journal of ``job`` itself, written under its lease."""
        return cls(dbapi, job.uuid, (job.id, worker, job.lease_version),
                   scope or job.target, progress=progress, on_done=on_done)

    def _row(self, batch):
        return dict(batch.to_dict(), scope=self.scope)

    def _fenced(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except exception.LeaseLost:
            if self.progress is not None:
                self.progress.interrupt(ck_progress.Progress.LEASE_LOST)
            raise

    def pending(self):
        return list(self.batches(state=journal.PREPARED))

    def prepare(self, batch):
        batch.state = journal.PREPARED
        self._fenced(self.dbapi.journal_prepare, self.job_id, self.worker,
                     self.lease_version, self._row(batch))

    def done(self, batch):
        batch.state = journal.DONE
        progress = self.on_done(batch) if self.on_done else None
        self._fenced(self.dbapi.journal_done, self.job_id, self.worker,
                     self.lease_version, batch.seq, self._row(batch),
                     progress=progress)

    def batches(self, state=journal.DONE):
        after = 0
        while True:
            page = self.dbapi.journal_batches(self.owner, state=state,
                                              after_seq=after, limit=PAGE,
                                              scope=self.scope)
            for data in page:
                yield journal.Batch.from_dict(data)
            if len(page) < PAGE:
                return
            after = page[-1]['seq']

    def mark_restored(self, batch):
        self._fenced(self.dbapi.journal_mark_restored, self.owner,
                     batch.seq, self.job_id, self.worker,
                     self.lease_version, scope=self.scope)
        batch.state = journal.RESTORED

    def next_seq(self):
        last = 0
        for batch in self.batches(state=None):
            last = batch.seq
        return last + 1

    def totals(self, state=journal.DONE):
        """{table: rows} summed over the batches in ``state``."""
        counts = {}
        for batch in self.batches(state=state):
            for table, n in (batch.counts or {}).items():
                counts[table] = counts.get(table, 0) + n
        return counts
