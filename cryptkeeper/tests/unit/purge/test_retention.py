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

"""Purge mode: archived copies past the retention go, nothing else."""

import json
import os


from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import params as params_mod
from cryptkeeper.purge import retention
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.purge import test_restore as fx

GROUPS = ((1, 2, 3), (4, 5, 6), (7, 8, 9))


def purge_params(**kw):
    data = {'mode': 'purge', 'retention_days': 5, 'batch_size': 2}
    data.update(kw)
    return params_mod.Params.from_dict(data, now=fx.NOW)


class _RetentionTests:

    def setUp(self):
        super().setUp()
        self.tmp, self.engine, self.graph = fx.source_database(self)
        self.backend = self.make_backend()
        self.addCleanup(self.backend.close)
        self.journal = journal_mod.MemoryJournal()
        fx.archive(self.engine, self.graph, self.backend, self.journal,
                   GROUPS)
        self.source_after_archive = fx.snapshot(self.engine, self.graph)

    def _left(self, backend=None):
        backend = backend or self.make_backend(reader=True)
        self.addCleanup(backend.close)
        return {name: sum(backend.contains(self.graph.tables[name], [k])
                          for b in self.journal.batches()
                          for k in b.keys[name])
                for name in fx.TABLES}

    def test_expire_past_the_retention(self):
        progress = fx.RecordingProgress()
        result = retention.expire(self.make_backend(purger=True),
                                  self.graph, purge_params(),
                                  progress=progress)
        self.assertEqual('succeeded', result['outcome'])
        self.assertEqual(self.expected, result['tables'])
        self.assertEqual(
            {'deleted': sum(t['deleted'] for t in self.expected.values())},
            result['totals'])
        self.assertEqual((fx.NOW.replace(day=27, month=5)).isoformat(),
                         result['cutoff'])
        self.assertEqual(5, result['retention_days'])
        self.assertEqual(len(progress.calls), result['batches'])
        self.assertEqual(result['tables'], progress.calls[-1][0])
        left = self._left()
        for name in fx.TABLES:
            archived = {'instances': 9, 'instance_metadata': 27,
                        'instance_faults': 9, 'tags': 18}[name]
            self.assertEqual(archived - self.expected.get(name, {}).get(
                'deleted', 0), left[name], name)
        # The source is not touched.
        self.assertEqual(self.source_after_archive,
                         fx.snapshot(self.engine, self.graph))
        json.dumps(result)
        # Nothing left to do the second time.
        again = retention.expire(self.make_backend(purger=True), self.graph,
                                 purge_params())
        self.assertEqual({}, again['tables'])
        self.assertEqual(0, again['batches'])

    def test_named_tables_bring_their_dependents(self):
        self.assertEqual(['instance_faults'],
                         retention.scope(self.graph, ['instance_faults']))
        self.assertEqual(
            {'instances', 'instance_metadata', 'instance_faults'},
            set(retention.scope(self.graph, ['instances'])))
        result = retention.expire(self.make_backend(purger=True),
                                  self.graph,
                                  purge_params(tables=['instance_faults']))
        self.assertEqual(['instance_faults'], list(result['tables']))
        exc = self.assertRaises(errors.UnknownTable, retention.scope,
                                self.graph, ['nope'])
        self.assertIn('nope', exc.message)

    def test_pause_and_interruption(self):
        waits = []

        def sleep(seconds):
            waits.append(seconds)
            return len(waits) == 2

        result = retention.expire(self.make_backend(purger=True),
                                  self.graph, purge_params(pause=3),
                                  sleep=sleep)
        self.assertEqual([3, 3], waits)
        self.assertEqual(2, result['batches'])
        self.assertEqual('partial', result['outcome'])
        self.assertIn('Interrupted', result['reason'])

    def test_default_retention_keeps_younger_copies(self):
        params = params_mod.Params.from_dict({'mode': 'purge'}, now=fx.NOW)
        self.assertEqual(90, params.retention_days)
        result = retention.expire(self.make_backend(purger=True),
                                  self.graph, params)
        # Only tags, dated by created_at 400 days back, are that old.
        self.assertEqual({'tags': {'deleted': 18}}, result['tables'])


class TestRetentionDatabaseBackend(_RetentionTests, base.TestCase):

    # Deleted more than 5 days before NOW: instances 5..9, each with 3
    # metadata rows and a fault; every tag (created 400 days ago).
    expected = {'instances': {'deleted': 5},
                'instance_metadata': {'deleted': 15},
                'instance_faults': {'deleted': 5},
                'tags': {'deleted': 18}}

    def make_backend(self, **kw):
        backend = backends.get('database', url='sqlite:///' + os.path.join(
            self.tmp, 'archive.sqlite'))
        self.addCleanup(backend.close)
        return backend


class TestRetentionFilesBackend(_RetentionTests, base.TestCase):

    # Whole files go once all their rows are past the retention: batch 3
    # (instances 7..9); batch 2 (4..6) holds instance 4, deleted 4 days
    # before NOW, and stays. Tags, 400 days old, go in every batch.
    expected = {'instances': {'deleted': 3},
                'instance_metadata': {'deleted': 9},
                'instance_faults': {'deleted': 3},
                'tags': {'deleted': 18}}

    def make_backend(self, purger=False, reader=False):
        # A purge job has its own job id: it walks every job's archive.
        backend = backends.get(
            'files', directory=os.path.join(self.tmp, 'archive'),
            job_id='purge-job' if purger else 'archive-job')
        self.addCleanup(backend.close)
        return backend


class TestRetentionShadowBackend(_RetentionTests, base.TestCase):

    # Row by row, as the archive database.
    expected = TestRetentionDatabaseBackend.expected

    def make_backend(self, **kw):
        backend = backends.get('shadow', engine=self.engine)
        self.addCleanup(backend.close)
        return backend
