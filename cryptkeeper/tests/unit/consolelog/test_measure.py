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

"""Measuring console logs on a real directory tree, and /proc holders."""

import os

import fixtures

from cryptkeeper.consolelog import fdinfo
from cryptkeeper.consolelog import measure
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.consolelog import helpers

PROJECT = '9d3c1f0a6b2e4c7d8e9f0a1b2c3d4e5f'
LIBVIRT_XML = b'''<domain type="kvm">
  <name>instance-00000001</name>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>vm1</nova:name>
      <nova:owner>
        <nova:user uuid="u1">admin</nova:user>
        <nova:project uuid="%s">demo</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
</domain>
''' % PROJECT.encode()
# A billion-laughs document: it must be refused, not expanded.
LAUGHS = b'''<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<domain><metadata><nova:instance
 xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:owner>
<nova:project uuid="&lol2;">x</nova:project></nova:owner></nova:instance>
</metadata></domain>
'''


class TestProject(base.TestCase):

    def test_nova_owner_project(self):
        self.assertEqual(PROJECT, measure.parse_project(LIBVIRT_XML))

    def test_other_namespace_or_no_owner(self):
        self.assertIsNone(measure.parse_project(
            LIBVIRT_XML.replace(b'openstack.org', b'example.com')))
        self.assertIsNone(measure.parse_project(b'<domain/>'))

    def test_entities_are_refused(self):
        exc = self.assertRaises(ValueError, measure.parse_project, LAUGHS)
        self.assertIn('DOCTYPE', str(exc))

    def test_broken_xml(self):
        self.assertRaises(ValueError, measure.parse_project, b'<domain>')


class TestGrowth(base.TestCase):

    def test_rate_over_recent_samples_ignores_cuts(self):
        samples = [measure.Sample(0, 0), measure.Sample(1800, 1000),
                   # A cut (1000 -> 100), then 400 more bytes.
                   measure.Sample(2700, 100), measure.Sample(3600, 500)]
        self.assertEqual(1400.0, measure.growth_rate(samples))
        # Only the last window counts: the first sample drops out.
        self.assertEqual(800.0, measure.growth_rate(samples, window=1800))

    def test_too_few_samples(self):
        self.assertIsNone(measure.growth_rate([]))
        self.assertIsNone(measure.growth_rate([measure.Sample(5, 9)]))


class TestScan(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.outside = self.useFixture(fixtures.TempDir()).path

    def _scan(self, **kw):
        return {r.instance: r for r in measure.scan(self.root, **kw)}

    def test_sizes_project_rotated_and_growth(self):
        inst = helpers.make_instance(self.root, data=b'a\n' * 5000)
        with open(os.path.join(inst, 'libvirt.xml'), 'wb') as f:
            f.write(LIBVIRT_XML)
        for name in ('console.log.0', 'console.log.1.gz',
                     'console.log.20260101T000000000000Z.gz'):
            with open(os.path.join(inst, name), 'wb') as f:
                f.write(b'old\n')
        # Not instances: ignored without a word.
        os.mkdir(os.path.join(self.root, '_base'))
        os.mkdir(os.path.join(self.root, helpers.UUID + '_resize'))
        with open(os.path.join(self.root, 'compute_nodes'), 'w') as f:
            f.write('{}')
        previous = {helpers.UUID: [measure.Sample(0, 0)]}
        recs = self._scan(previous=previous, now=3600,
                          runaway_bytes_per_hour=5000)
        self.assertEqual([helpers.UUID], list(recs))
        rec = recs[helpers.UUID]
        st = os.lstat(os.path.join(inst, 'console.log'))
        self.assertEqual((True, 10000, st.st_blocks * 512, PROJECT),
                         (rec.exists, rec.apparent_bytes,
                          rec.allocated_bytes, rec.project))
        self.assertEqual(['console.log.0', 'console.log.1.gz',
                          'console.log.20260101T000000000000Z.gz'],
                         [r['name'] for r in rec.rotated])
        self.assertEqual([False, False, True],
                         [r['backup'] for r in rec.rotated])
        self.assertEqual(12, rec.rotated_apparent_bytes)
        self.assertEqual(10000.0, rec.growth_bytes_per_hour)
        self.assertTrue(rec.runaway)
        self.assertEqual([], rec.problems)
        self.assertEqual(rec.to_dict()['rotated_apparent_bytes'], 12)

    def test_symlinks_fifos_and_directories_are_not_followed(self):
        secret = os.path.join(self.outside, 'secret')
        with open(secret, 'wb') as f:
            f.write(b's' * 100000)
        inst = helpers.make_instance(self.root)
        os.symlink(secret, os.path.join(inst, 'console.log'))
        os.symlink(secret, os.path.join(inst, 'libvirt.xml'))
        os.mkfifo(os.path.join(inst, 'console.log.0'))
        os.mkdir(os.path.join(inst, 'console.log.1'))
        other = helpers.make_instance(self.outside, helpers.OTHER_UUID,
                                      data=b'x\n')
        os.symlink(other, os.path.join(self.root, helpers.OTHER_UUID))
        recs = self._scan()
        rec = recs[helpers.UUID]
        self.assertFalse(rec.exists)
        self.assertEqual(0, rec.apparent_bytes)
        self.assertEqual(['console.log is a symlink; skipped',
                          'console.log.0 is a FIFO; skipped',
                          'console.log.1 is a directory; skipped'],
                         sorted(rec.problems))
        self.assertIsNone(rec.project)
        self.assertIn('libvirt.xml unreadable', rec.project_note)
        self.assertEqual(['instance directory is a symlink; not followed'],
                         recs[helpers.OTHER_UUID].problems)

    def test_unparseable_and_absent_libvirt_xml(self):
        inst = helpers.make_instance(self.root, data=b'x\n')
        helpers.make_instance(self.root, helpers.OTHER_UUID, data=b'y\n')
        with open(os.path.join(inst, 'libvirt.xml'), 'wb') as f:
            f.write(LAUGHS)
        recs = self._scan()
        self.assertIn('unparseable', recs[helpers.UUID].project_note)
        self.assertEqual('libvirt.xml absent',
                         recs[helpers.OTHER_UUID].project_note)

    def test_holders_from_proc(self):
        inst = helpers.make_instance(self.root)
        path = os.path.join(inst, 'console.log')
        writer = helpers.Writer(path, append=True, count=10)
        self.addCleanup(writer.stop)
        writer.wait_finished()
        rec = self._scan(with_holders=True)[helpers.UUID]
        mine = [h for h in rec.holders['holders']
                if h['pid'] == writer.proc.pid]
        self.assertEqual(1, len(mine))
        self.assertTrue(mine[0]['append'])
        self.assertTrue(mine[0]['writer'])
        self.assertEqual(writer.result[1], mine[0]['pos'])


class TestFdinfo(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path

    def test_parse(self):
        self.assertEqual((0o2102001, 42), fdinfo.parse_fdinfo(
            'pos:\t42\nflags:\t02102001\nmnt_id:\t29\nino:\t7\n'))
        self.assertRaises(ValueError, fdinfo.parse_fdinfo, 'pos:\t1\n')

    def test_append_and_plain_writers(self):
        path = os.path.join(self.root, 'console.log')
        plain = helpers.Writer(path, append=False, count=100)
        self.addCleanup(plain.stop)
        appender = helpers.Writer(path, append=True, count=100)
        self.addCleanup(appender.stop)
        plain.wait_finished()
        appender.wait_finished()
        st = os.stat(path)
        scan = fdinfo.find_holders(st.st_dev, st.st_ino)
        by_pid = {h.pid: h for h in scan.holders}
        self.assertFalse(by_pid[plain.proc.pid].append)
        self.assertTrue(by_pid[appender.proc.pid].append)
        self.assertEqual(plain.result[1], by_pid[plain.proc.pid].pos)
        self.assertEqual(2, len(scan.writers))

    def test_vanished_and_unreadable_processes_in_a_proc_tree(self):
        # A proc-shaped tree: pid 10's fd directory is gone (the process
        # exited between listing and reading), pid 11's fd link dangles.
        proc = os.path.join(self.root, 'proc')
        os.makedirs(os.path.join(proc, '10'))
        os.makedirs(os.path.join(proc, '11', 'fd'))
        os.symlink('/nonexistent/file', os.path.join(proc, '11', 'fd', '3'))
        os.makedirs(os.path.join(proc, 'self'))
        found, status = fdinfo.scan({(1, 2)}, proc=proc, exclude_pids=())
        self.assertEqual({}, found)
        self.assertEqual(2, status.vanished)
        self.assertTrue(status.complete)
