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

"""The batch journal: what a purge job prepared and finished, durably.

Every batch is written to the journal before any row of it is copied or
deleted, and marked done once the source delete has committed. A job that
stops anywhere in between (cancelled, worker killed) finds its unfinished
batch in :meth:`Journal.pending` and settles it before going on, so counts
stay exact and no row is lost or archived twice.
"""

import abc
import copy
import dataclasses

PREPARED = 'prepared'
DONE = 'done'
RESTORED = 'restored'
STATES = (PREPARED, DONE, RESTORED)


@dataclasses.dataclass
class Batch:
    """One tree of parent rows and their dependents, archived together.

    ``keys`` maps each table to the primary keys (lists, in primary-key
    column order) of its rows in this batch; ``followup`` does the same
    per follow-up target (the nova API database).
    """

    seq: int
    root: str
    marker: list
    keys: dict = dataclasses.field(default_factory=dict)
    counts: dict = dataclasses.field(default_factory=dict)
    checksums: dict = dataclasses.field(default_factory=dict)
    location: dict = dataclasses.field(default_factory=dict)
    followup: dict = dataclasses.field(default_factory=dict)
    state: str = PREPARED

    def to_dict(self):
        """The batch as a dict, for a journal to keep.

        Its own dicts are copied; the key lists in them are shared, not
        deep-copied on every write: a batch replaces them, never changes
        one in place.
        """
        data = {f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)}
        for name in ('keys', 'counts', 'checksums', 'location'):
            data[name] = dict(data[name])
        data['followup'] = {t: dict(v) for t, v in self.followup.items()}
        data['marker'] = copy.copy(self.marker)
        return data

    @classmethod
    def from_dict(cls, data):
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class Journal(metaclass=abc.ABCMeta):
    """Where a job's batches are recorded; the worker keeps it durable."""

    @abc.abstractmethod
    def pending(self):
        """Batches prepared by an earlier attempt and not done."""

    @abc.abstractmethod
    def prepare(self, batch):
        """Record ``batch`` before anything of it is written anywhere."""

    @abc.abstractmethod
    def done(self, batch):
        """Record that ``batch`` is archived and deleted from the source."""

    @abc.abstractmethod
    def batches(self, state=DONE):
        """Batches in ``state``, in ``seq`` order."""

    @abc.abstractmethod
    def mark_restored(self, batch):
        """Record that ``batch``'s rows are back in the source."""

    def next_seq(self):
        seqs = [b.seq for b in self.batches(state=None)]
        return max(seqs) + 1 if seqs else 1

    def last_marker(self):
        """{root table: marker} of the newest done batch of each root."""
        markers = {}
        for batch in self.batches(state=DONE):
            markers[batch.root] = batch.marker
        return markers


class MemoryJournal(Journal):
    """A journal in memory: for tests and for runs nothing resumes."""

    def __init__(self):
        self._batches = {}

    def pending(self):
        return list(self.batches(state=PREPARED))

    def prepare(self, batch):
        batch.state = PREPARED
        self._batches[batch.seq] = Batch.from_dict(batch.to_dict())

    def done(self, batch):
        batch.state = DONE
        self._batches[batch.seq] = Batch.from_dict(batch.to_dict())

    def batches(self, state=DONE):
        for seq in sorted(self._batches):
            batch = self._batches[seq]
            if state is None or batch.state == state:
                yield Batch.from_dict(batch.to_dict())

    def mark_restored(self, batch):
        batch.state = RESTORED
        self._batches[batch.seq] = Batch.from_dict(batch.to_dict())
