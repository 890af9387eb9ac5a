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

"""The files backend on a real directory: layout, sums, links, expiry."""

import datetime
import gzip
import hashlib
import json
import os
import stat


from cryptkeeper.purge import backends
from cryptkeeper.purge.backends import files
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import rows as rows_mod
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.purge import test_restore as fx

JOB = '4f0c6a51-2a7b-4c55-9d0e-5a4f1c3e2b10'


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class TestFilesBackend(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp, self.source, self.graph = fx.source_database(self)
        self.root = os.path.join(self.tmp, 'archive')
        self.backend = self._backend()
        self.jobdir = os.path.join(self.root, JOB)

    def _backend(self, job_id=JOB, root=None):
        backend = backends.get('files', directory=root or self.root,
                               job_id=job_id)
        self.addCleanup(backend.close)
        return backend

    def _rows(self, name, ids=None):
        return fx.source_rows(self.source, self.graph, name, ids)

    def _batch(self, seq=1):
        return journal_mod.Batch(seq=seq, root='instances', marker=[seq])

    def _read_manifest(self, jobdir=None):
        with open(os.path.join(jobdir or self.jobdir, 'manifest.json')) as f:
            return json.load(f)

    def _write(self, name, ids, seq=1, backend=None):
        backend = backend or self.backend
        batch = self._batch(seq)
        res = backend.write(None, self.graph.tables[name],
                            self._rows(name, ids), batch)
        backend.flush(batch)
        return res

    def test_get(self):
        self.assertIsInstance(self.backend, files.FilesBackend)
        self.assertEqual({'kind': 'files', 'directory': self.root,
                          'job_id': JOB}, self.backend.location())
        self.assertRaises(errors.InvalidParams, backends.get, 'files')
        for bad in ('../escape', 'a/b', '.hidden', '..', 'x' * 200):
            self.assertRaises(errors.InvalidParams, backends.get, 'files',
                              directory=self.root, job_id=bad)

    def test_directories_are_private(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        for path in (self.root, self.jobdir):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(0, mode & 0o077, oct(mode))

    def test_layout_and_checksums(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        rows = self._rows('instances', [1, 2, 3])
        batch = self._batch(7)
        res = self.backend.write(None, self.graph.tables['instances'], rows,
                                 batch)
        self.assertEqual(rows_mod.digest(rows, ['id']),
                         (res['rows'], res['sha256']))
        path = os.path.join(self.jobdir, '000007-instances.jsonl.gz')
        self.assertEqual(path, res['location'])
        # The data file is in place at once; the manifest at flush.
        self.assertTrue(os.path.exists(path))
        self.assertFalse(os.path.exists(
            os.path.join(self.jobdir, 'manifest.json')))
        self.backend.flush(batch)
        self.assertEqual(['000007-instances.jsonl.gz', 'manifest.json'],
                         sorted(os.listdir(self.jobdir)))

        # Everything the manifest says, proved by reading the files back.
        manifest = self._read_manifest()
        self.assertEqual(JOB, manifest['job_id'])
        [entry] = manifest['files']
        with open(path, 'rb') as f:
            data = f.read()
        content = gzip.decompress(data)
        self.assertEqual(sha256(data), entry['file_sha256'])
        self.assertEqual(sha256(content), entry['sha256'])
        self.assertEqual(res['sha256'], entry['sha256'])
        self.assertEqual(len(data), entry['bytes'])
        self.assertEqual(('instances', 7, 3, ['id']),
                         (entry['table'], entry['batch'], entry['rows'],
                          entry['pk']))
        self.assertEqual(([1], [3]), (entry['first_key'],
                                      entry['last_key']))
        lines = content.splitlines()
        self.assertEqual([rows_mod.canonical(r) for r in rows], lines)
        first = json.loads(lines[0])
        self.assertEqual({'b64': 'AP8BCg0='}, first['user_data'])
        self.assertEqual('1.01', first['memory_gb'])
        # The newest age of the file's rows dates it for retention.
        self.assertEqual(max(r['deleted_at'] for r in rows).isoformat(),
                         entry['newest'])

    def test_read_gives_back_the_column_types(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        rows = self._rows('instances', [1, 2, 3])
        self._write('instances', [1, 2, 3])
        # A fresh backend works through the manifest on disk alone.
        backend = self._backend()
        backend.bind_graph(self.graph)
        got = sorted(backend.read(self.graph.tables['instances'],
                                  [[3], [1], [2], [99]]),
                     key=lambda r: r['id'])
        self.assertEqual(rows, got)
        self.assertEqual(3, backend.contains('instances',
                                             [[1], [2], [3], [4]]))

    def test_verify_rereads_the_file(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        res = self._write('instances', [1, 2, 3])
        expected = {'rows': res['rows'], 'sha256': res['sha256']}
        keys = [[1], [2], [3]]
        self.backend.verify(None, 'instances', keys, expected)
        path = os.path.join(self.jobdir, '000001-instances.jsonl.gz')
        with open(path, 'rb') as f:
            content = gzip.decompress(f.read())
        with open(path, 'wb') as f:
            f.write(gzip.compress(content.replace(b'inst', b'INST')))
        exc = self.assertRaises(errors.VerificationFailed,
                                self.backend.verify, None, 'instances', keys,
                                expected)
        self.assertIn('does not match its manifest', exc.message)
        os.unlink(path)
        exc = self.assertRaises(errors.VerificationFailed,
                                self.backend.verify, None, 'instances', keys,
                                expected)
        self.assertIn('missing', exc.message)

    def test_verify_counts_rows(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        res = self._write('instances', [1, 2])
        exc = self.assertRaises(
            errors.VerificationFailed, self.backend.verify, None,
            'instances', [[1], [2], [3]],
            {'rows': 3, 'sha256': res['sha256']})
        self.assertIn('hold 2 rows', exc.message)

    def test_rewriting_a_batch_keeps_one_copy(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        self._write('instance_metadata', [10, 11])
        self._write('instance_metadata', [10, 11, 12])
        manifest = self._read_manifest()
        self.assertEqual([3], [e['rows'] for e in manifest['files']])
        self.assertEqual(3, self.backend.contains(
            'instance_metadata', [[10], [11], [12]]))
        # No temporary file is left behind.
        self.assertEqual(['000001-instance_metadata.jsonl.gz',
                          'manifest.json'], sorted(os.listdir(self.jobdir)))

    def test_remove_rewrites_files_through_the_manifest(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        self._write('tags', None, seq=1)
        keys = [[fx.uuid_of(1), 'blue'], [fx.uuid_of(2), 'green']]
        self.assertEqual(2, self.backend.remove('tags', keys))
        self.assertEqual(0, self.backend.contains('tags', keys))
        [entry] = self._read_manifest()['files']
        self.assertEqual(22, entry['rows'])
        with open(os.path.join(self.jobdir, entry['file']), 'rb') as f:
            data = f.read()
        self.assertEqual(entry['file_sha256'], sha256(data))
        self.assertEqual(entry['sha256'], sha256(gzip.decompress(data)))
        # Only the rewritten file and the manifest remain.
        self.assertEqual(sorted([entry['file'], 'manifest.json']),
                         sorted(os.listdir(self.jobdir)))
        rest = [[r['resource_id'], r['tag']] for r in self._rows('tags')
                if [r['resource_id'], r['tag']] not in keys]
        self.assertEqual(22, self.backend.remove('tags', rest))
        self.assertEqual([], self._read_manifest()['files'])
        self.assertEqual(['manifest.json'], os.listdir(self.jobdir))

    def test_symlinked_archive_directory_is_refused(self):
        real = os.path.join(self.tmp, 'elsewhere')
        os.mkdir(real, 0o700)
        link = os.path.join(self.tmp, 'link')
        os.symlink(real, link)
        backend = self._backend(root=link)
        exc = self.assertRaises(errors.PurgeError, backend.prepare,
                                self.graph, ['instances'])
        self.assertIn('symbolic link', exc.message)
        self.assertEqual([], os.listdir(real))

    def test_symlinked_job_directory_is_refused(self):
        os.makedirs(self.root, 0o700)
        real = os.path.join(self.tmp, 'elsewhere')
        os.mkdir(real, 0o700)
        os.symlink(real, self.jobdir)
        exc = self.assertRaises(errors.PurgeError, self.backend.prepare,
                                self.graph, ['instances'])
        self.assertIn('symbolic link', exc.message)
        self.assertEqual([], os.listdir(real))

    def test_planted_link_is_replaced_not_followed(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        victim = os.path.join(self.tmp, 'victim')
        with open(victim, 'w') as f:
            f.write('precious')
        os.symlink(victim, os.path.join(self.jobdir,
                                        '000001-instances.jsonl.gz'))
        self._write('instances', [1])
        with open(victim) as f:
            self.assertEqual('precious', f.read())
        self.assertFalse(os.path.islink(
            os.path.join(self.jobdir, '000001-instances.jsonl.gz')))
        self.assertEqual(1, self.backend.contains('instances', [[1]]))

    def test_linked_manifest_is_refused(self):
        os.makedirs(self.jobdir, 0o700)
        victim = os.path.join(self.tmp, 'victim')
        with open(victim, 'w') as f:
            f.write('{"format": 1, "files": []}')
        os.symlink(victim, os.path.join(self.jobdir, 'manifest.json'))
        exc = self.assertRaises(errors.PurgeError, self.backend.prepare,
                                self.graph, ['instances'])
        self.assertIn('symbolic link', exc.message)
        with open(victim) as f:
            self.assertEqual('{"format": 1, "files": []}', f.read())

    def test_expire_removes_old_files_of_every_job(self):
        self.backend.prepare(self.graph, list(fx.TABLES))
        self._write('instances', [1, 2], seq=1)
        self._write('instances', [8, 9], seq=2)
        self._write('tags', None, seq=1)
        other = self._backend(job_id='older-job')
        other.prepare(self.graph, list(fx.TABLES))
        self._write('instances', [6, 7], seq=1, backend=other)
        # Instances 6..9 went more than 5 days before NOW, 1..2 within.
        cutoff = fx.NOW - datetime.timedelta(days=5)
        purger = self._backend(job_id=None)
        self.assertEqual(sorted([JOB, 'older-job']), purger.job_ids())
        # A limit of 1 row still removes a whole file per call.
        self.assertEqual(2, purger.expire(self.graph.tables['instances'],
                                          cutoff, 1))
        self.assertEqual(2, purger.expire('instances', cutoff, 1))
        self.assertEqual(0, purger.expire('instances', cutoff, 1))
        self.assertEqual(['000001-instances.jsonl.gz', '000001-tags.jsonl.gz',
                          'manifest.json'], sorted(os.listdir(self.jobdir)))
        self.assertEqual(['manifest.json'], os.listdir(
            os.path.join(self.root, 'older-job')))
        self.assertEqual([], self._read_manifest(
            os.path.join(self.root, 'older-job'))['files'])
        self.assertEqual(
            ['instances', 'tags'],
            [e['table'] for e in self._read_manifest()['files']])
        # Tags carry only created_at, 400 days back: old enough.
        self.assertEqual(24, purger.expire('tags', cutoff, 1000))

    def test_expire_of_a_missing_directory(self):
        self.assertEqual(0, self._backend(job_id=None).expire(
            'instances', fx.NOW, 10))
        self.assertEqual(0, self.backend.contains('instances', [[1]]))
        self.assertEqual([], list(self.backend.read('instances', [[1]])))
        self.assertFalse(os.path.exists(self.root))

    def test_two_backends_share_a_job_directory(self):
        # The API database's follow-ups may be archived by a second
        # backend into the same job: neither may drop the other's files
        # from the manifest.
        cell = self.backend
        api = self._backend()
        cell.prepare(self.graph, ['instances'])
        api.prepare(self.graph, ['instance_faults'])
        self._write('instances', [1, 2], seq=1, backend=cell)
        self._write('instance_faults', [1, 2], seq=1, backend=api)
        self._write('instances', [3], seq=2, backend=cell)
        self.assertEqual(1, api.remove('instance_faults', [[1]]))
        self.assertEqual(
            [(1, 'instance_faults', 1), (1, 'instances', 2),
             (2, 'instances', 1)],
            [(e['batch'], e['table'], e['rows'])
             for e in self._read_manifest()['files']])
        fresh = self._backend()
        fresh.bind_graph(self.graph)
        self.assertEqual(3, fresh.contains('instances', [[1], [2], [3]]))
        self.assertEqual(1, fresh.contains('instance_faults', [[1], [2]]))
