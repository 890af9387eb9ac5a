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

"""Enforcing console-log policies on real files with real writers."""

import datetime
import errno
import json
import os
import subprocess
import sys
import tempfile

import fixtures

from cryptkeeper.consolelog import backup
from cryptkeeper.consolelog import policy as policy_mod
from cryptkeeper.consolelog import truncate
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.consolelog import helpers

KiB = 1 << 10
MiB = 1 << 20
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
# Slack on allocated size after a cut: collapse keeps up to one block
# minus one byte more than keep_bytes (block alignment), punch-hole keeps
# the partly kept block; one more block covers the filesystem's rounding.
SLACK_BLOCKS = 2


def make_policy(**kw):
    kw.setdefault('name', 'test')
    kw.setdefault('max_bytes', MiB)
    kw.setdefault('keep_bytes', 256 * KiB)
    kw.setdefault('mode', 'enforce')
    return policy_mod.Policy(**kw).validate()


class EnforceBase(base.TestCase):

    root_parent = None

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(
            fixtures.TempDir(rootdir=self.root_parent)).path
        self.outside = self.useFixture(fixtures.TempDir()).path
        self.inst = helpers.make_instance(self.root)
        self.log = os.path.join(self.inst, 'console.log')
        self.ignore = helpers.unreadable_pids()

    def enforce(self, pol, **kw):
        kw.setdefault('ignore_pids', self.ignore)
        kw.setdefault('now', NOW)
        return truncate.enforce(self.root, helpers.UUID, pol, **kw)

    def write_log(self, data):
        with open(self.log, 'wb') as f:
            f.write(data)

    def backups(self):
        return sorted(n for n in os.listdir(self.inst)
                      if backup.BACKUP_RE.match(n))


class TestEnforceStatic(EnforceBase):

    def setUp(self):
        super().setUp()
        self.data = helpers.lines(0, 40000)
        self.write_log(self.data)

    def test_collapse_keeps_whole_lines_and_backs_up_the_head(self):
        res = self.enforce(make_policy(backups=2))
        self.assertEqual(('cut', truncate.COLLAPSE), (res.action, res.method))
        st = os.stat(self.log)
        block = st.st_blksize
        self.assertEqual(0, res.freed_offset % block)
        self.assertLess(res.cut_offset - res.freed_offset, block)
        self.assertLessEqual(len(self.data) - res.cut_offset, 256 * KiB)
        self.assertEqual(b'\n', self.data[res.cut_offset - 1:res.cut_offset])
        with open(self.log, 'rb') as f:
            kept = f.read()
        partial = res.cut_offset - res.freed_offset
        self.assertEqual(truncate._marker(partial), kept[:partial])
        self.assertEqual(self.data[res.cut_offset:], kept[partial:])
        self.assertEqual([res.backup], self.backups())
        self.assertEqual(self.data[:res.cut_offset],
                         helpers.gunzip(os.path.join(self.inst, res.backup)))
        self.assertEqual(res.cut_offset, res.bytes_removed)
        self.assertLessEqual(st.st_blocks * 512,
                             256 * KiB + SLACK_BLOCKS * block)
        self.assertEqual((len(kept), st.st_blocks * 512),
                         (res.apparent_after, res.allocated_after))

    def test_report_mode_changes_nothing(self):
        before = helpers.tree(self.root)
        digest = helpers.digest(self.log)
        res = self.enforce(make_policy(mode='report', backups=3))
        self.assertEqual(('planned', truncate.COLLAPSE),
                         (res.action, res.method))
        self.assertGreater(res.bytes_removed, 0)
        self.assertEqual(before, helpers.tree(self.root))
        self.assertEqual(digest, helpers.digest(self.log))

    def test_below_max_bytes_and_disabled_do_nothing(self):
        res = self.enforce(make_policy(max_bytes=8 * MiB, keep_bytes=MiB))
        self.assertEqual('none', res.action)
        self.assertIn('within max_bytes', res.reason)
        res = self.enforce(make_policy(enabled=False))
        self.assertEqual(('none', 'policy disabled'),
                         (res.action, res.reason))
        self.assertEqual(len(self.data), os.path.getsize(self.log))

    def test_backups_rotate_and_expire(self):
        pol = make_policy(max_bytes=64 * KiB, keep_bytes=16 * KiB,
                          backups=2, max_age_days=30)
        old = backup.name_for(NOW - datetime.timedelta(days=40))
        with open(os.path.join(self.inst, old), 'wb') as f:
            f.write(b'')
        names = []
        for hour in range(3):
            with open(self.log, 'ab') as f:
                f.write(helpers.lines(50000, 52000))
            res = self.enforce(pol, now=NOW + datetime.timedelta(hours=hour))
            self.assertEqual('cut', res.action)
            names.append(res.backup)
        self.assertEqual(names[1:], self.backups())
        self.assertNotIn(old, self.backups())

    def test_copy_truncate_when_chosen(self):
        res = self.enforce(make_policy(backups=1),
                           methods=(truncate.COPY,))
        self.assertEqual(('cut', truncate.COPY), (res.action, res.method))
        self.assertEqual(0, res.bytes_at_risk)
        with open(self.log, 'rb') as f:
            self.assertEqual(self.data[res.cut_offset:], f.read())
        self.assertEqual(self.data[:res.cut_offset], helpers.gunzip(
            os.path.join(self.inst, res.backup)))
        self.assertNotIn(truncate._TAIL_TMP, os.listdir(self.inst))

    def test_punch_hole_when_chosen(self):
        res = self.enforce(make_policy(backups=1),
                           methods=(truncate.PUNCH,))
        self.assertEqual(('cut', truncate.PUNCH), (res.action, res.method))
        with open(self.log, 'rb') as f:
            kept = f.read()
        self.assertEqual(len(self.data), len(kept))
        self.assertEqual(b'\0' * res.cut_offset, kept[:res.cut_offset])
        self.assertEqual(self.data[res.cut_offset:], kept[res.cut_offset:])
        # A second cut backs up only what the first one left.
        with open(self.log, 'ab') as f:
            f.write(helpers.lines(40000, 60000))
        again = self.enforce(make_policy(backups=2),
                             methods=(truncate.PUNCH,),
                             now=NOW + datetime.timedelta(seconds=1))
        self.assertEqual(res.cut_offset, again.content_start)
        full = self.data + helpers.lines(40000, 60000)
        self.assertEqual(full[res.cut_offset:again.cut_offset],
                         helpers.gunzip(os.path.join(self.inst, again.backup)))

    def test_lock_held_by_another_agent(self):
        proc = subprocess.Popen([sys.executable, '-c', helpers.LOCKER,
                                 self.log], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, bufsize=0)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdin.close)
        self.addCleanup(proc.stdout.close)
        self.assertEqual(b'locked', proc.stdout.readline().strip())
        digest = helpers.digest(self.log)
        res = self.enforce(make_policy(backups=1))
        self.assertEqual('skipped', res.action)
        self.assertIn('another agent holds the lock', res.reason)
        self.assertEqual(digest, helpers.digest(self.log))
        self.assertEqual([], self.backups())


class TestBadInput(EnforceBase):
    """Hostile or odd things on disk: reported, never followed or crashed."""

    def setUp(self):
        super().setUp()
        self.secret = os.path.join(self.outside, 'secret.log')
        with open(self.secret, 'wb') as f:
            f.write(helpers.lines(0, 40000))
        self.outside_before = helpers.tree(self.outside)
        self.secret_digest = helpers.digest(self.secret)

    def assertOutsideUntouched(self):
        self.assertEqual(self.outside_before, helpers.tree(self.outside))
        self.assertEqual(self.secret_digest, helpers.digest(self.secret))

    def test_symlinked_console_log(self):
        os.symlink(self.secret, self.log)
        res = self.enforce(make_policy(backups=1))
        self.assertEqual('refused', res.action)
        self.assertIn('symlink', res.reason)
        self.assertOutsideUntouched()
        self.assertEqual(['console.log'], os.listdir(self.inst))

    def test_symlinked_instance_directory(self):
        os.rmdir(self.inst)
        shutil_dir = helpers.make_instance(self.outside, helpers.UUID)
        os.symlink(self.secret, os.path.join(shutil_dir, 'console.log'))
        os.symlink(shutil_dir, self.inst)
        before = helpers.tree(self.outside)
        res = self.enforce(make_policy(backups=1))
        self.assertEqual('refused', res.action)
        self.assertIn('not followed', res.reason)
        self.assertEqual(before, helpers.tree(self.outside))

    def test_instance_name_cannot_escape(self):
        for name in ('..', '../x', '.hidden', ''):
            res = truncate.enforce(self.root, name, make_policy())
            self.assertEqual('refused', res.action, name)
        self.assertOutsideUntouched()

    def test_fifo_and_directory(self):
        os.mkfifo(self.log)
        res = self.enforce(make_policy())
        self.assertEqual('refused', res.action)
        self.assertIn('a FIFO', res.reason)
        os.unlink(self.log)
        os.mkdir(self.log)
        res = self.enforce(make_policy())
        self.assertEqual('refused', res.action)
        self.assertIn('a directory', res.reason)

    def test_missing(self):
        res = self.enforce(make_policy())
        self.assertEqual(('none', 'no console.log'), (res.action, res.reason))

    def test_deleted_mid_enforcement(self):
        self.write_log(helpers.lines(0, 40000))

        def delete(stage):
            if stage == 'before_cut':
                os.unlink(self.log)

        res = self.enforce(make_policy(backups=2), checkpoint=delete)
        self.assertEqual('refused', res.action)
        self.assertIn('removed during enforcement', res.reason)
        self.assertEqual([], os.listdir(self.inst))
        self.assertIn('removed: nothing was cut', res.notes[-1])

    def test_replaced_mid_enforcement(self):
        self.write_log(helpers.lines(0, 40000))
        fresh = os.path.join(self.inst, 'fresh')
        with open(fresh, 'wb') as f:
            f.write(helpers.lines(0, 40000))
        digest = helpers.digest(fresh)

        def swap(stage):
            if stage == 'backup_written':
                os.rename(fresh, self.log)

        res = self.enforce(make_policy(backups=2), checkpoint=swap)
        self.assertEqual('refused', res.action)
        self.assertIn('replaced', res.reason)
        self.assertEqual(digest, helpers.digest(self.log))
        self.assertEqual(['console.log'], os.listdir(self.inst))

    def test_swapped_for_symlink_before_open(self):
        self.write_log(helpers.lines(0, 40000))

        def swap(stage):
            if stage == 'opened':
                os.unlink(self.log)
                os.symlink(self.secret, self.log)

        res = self.enforce(make_policy(backups=1), checkpoint=swap)
        self.assertEqual('refused', res.action)
        self.assertOutsideUntouched()

    def test_non_append_writer_with_copy_truncate_only(self):
        writer = helpers.Writer(self.log, append=False, count=40000)
        self.addCleanup(writer.stop)
        writer.wait_finished()
        digest = helpers.digest(self.log)
        res = self.enforce(make_policy(), methods=(truncate.COPY,))
        self.assertEqual('refused', res.action)
        self.assertIn('without O_APPEND', res.reason)
        self.assertEqual(digest, helpers.digest(self.log))

    def test_backup_fails_with_enospc_simulated(self):
        # Simulated boundary: ENOSPC raised where the kernel reports it for
        # delayed allocation (fsync of the backup). The real full-disk case
        # is TestTinyTmpfs below, which needs root to mount.
        self.write_log(helpers.lines(0, 40000))
        digest = helpers.digest(self.log)
        self.useFixture(fixtures.MockPatch(
            'os.fsync', side_effect=OSError(errno.ENOSPC, 'No space')))
        res = self.enforce(make_policy(backups=1))
        self.assertEqual(('refused', 'ENOSPC'), (res.action, res.error))
        self.assertIn('backup failed, nothing cut', res.reason)
        self.assertEqual(digest, helpers.digest(self.log))
        self.assertEqual(['console.log'], os.listdir(self.inst))

    def test_permission_denied(self):
        # root ignores file modes, so the enforcement runs in a child that
        # drops to nobody after importing; the denial is the kernel's.
        if os.geteuid() != 0:
            self.skipTest('needs root to drop privileges to nobody')
        root = tempfile.mkdtemp(dir='/tmp')
        self.addCleanup(subprocess.call, ['rm', '-rf', root])
        # nobody must reach the file to be refused by its mode.
        os.chmod(root, 0o755)  # noqa: S103
        inst = helpers.make_instance(root, data=helpers.lines(0, 40000))
        os.chmod(inst, 0o755)  # noqa: S103
        log = os.path.join(inst, 'console.log')
        os.chmod(log, 0o644)
        digest = helpers.digest(log)
        code = (
            'import json, os, sys\n'
            'from cryptkeeper.consolelog import policy, truncate\n'
            'os.setgroups([]); os.setgid(65534); os.setuid(65534)\n'
            'p = policy.Policy(name="p", max_bytes=1 << 20,'
            ' keep_bytes=1 << 18, backups=1, mode="enforce")\n'
            'print(json.dumps(truncate.enforce(sys.argv[1], sys.argv[2],'
            ' p).to_dict()))\n')
        out = subprocess.check_output(
            [sys.executable, '-c', code, root, helpers.UUID],
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.dirname(os.path.dirname(os.path.abspath(
                    __file__)))))))
        res = json.loads(out)
        self.assertEqual(('error', 'EACCES'), (res['action'], res['error']))
        self.assertIn('cannot open console.log', res['reason'])
        self.assertEqual(digest, helpers.digest(log))
        self.assertEqual(['console.log'], os.listdir(inst))


class TestLiveWriters(EnforceBase):
    """Real writers at full speed while enforcement runs again and again."""

    count = 300000

    def run_writer(self, append, pol, **kw):
        writer = helpers.Writer(self.log, append=append, count=self.count)
        self.addCleanup(writer.stop)
        results, removed = [], []
        while True:
            done = writer.finished()
            res = self.enforce(pol, now=NOW + datetime.timedelta(
                microseconds=len(results)), **kw)
            self.assertIn(res.action, ('cut', 'none'), res)
            if res.action == 'cut':
                results.append(res)
                if res.backup:
                    removed.append(helpers.gunzip(
                        os.path.join(self.inst, res.backup)))
            if done:
                break
        total, offset = writer.result
        return writer, results, removed, total, offset

    def check_file(self, results, removed, total, pol):
        with open(self.log, 'rb') as f:
            data = f.read()
        st = os.stat(self.log)
        # A sweep cuts only above max_bytes, so that is the bound between
        # sweeps; right after each cut the log was near keep_bytes.
        self.assertLessEqual(
            st.st_blocks * 512,
            pol.max_bytes + SLACK_BLOCKS * st.st_blksize)
        for res in results:
            # Right after each cut: keep_bytes, plus what the writer added
            # while the cut ran (measured from the sizes in the result).
            shift = res.freed_offset if res.method == truncate.COLLAPSE else 0
            grew = res.apparent_after - (res.apparent_before - shift)
            self.assertLessEqual(
                res.allocated_after,
                pol.keep_bytes + SLACK_BLOCKS * st.st_blksize + grew)
        # The newest lines are in the last 100 KiB, whole and in order.
        tail = data[-100 * KiB:].split(b'\n')[1:-1]
        numbers = [int(t.split(b' ')[0]) for t in tail]
        self.assertEqual(list(range(self.count - len(numbers), self.count)),
                         numbers)
        # No loss: every removed head plus what is left is every line
        # ever written, once, in order.
        self.assertEqual(helpers.lines(0, self.count),
                         b''.join(helpers.unmark(r) for r in removed)
                         + helpers.unmark(data))
        self.assertGreater(len(results), 1)
        return data, st

    def test_append_writer_collapse(self):
        pol = make_policy(backups=32)
        writer, results, removed, total, offset = self.run_writer(True, pol)
        self.assertEqual({truncate.COLLAPSE}, {r.method for r in results})
        self.assertTrue(all(r.holders for r in results))
        self.check_file(results, removed, total, pol)

    def test_plain_writer_punch_hole(self):
        pol = make_policy(backups=32)
        writer, results, removed, total, offset = self.run_writer(False, pol)
        self.assertEqual({truncate.PUNCH}, {r.method for r in results})
        data, st = self.check_file(results, removed, total, pol)
        # The writer's offset is intact: it is where every byte it wrote
        # ended, and the file's size agrees.
        self.assertEqual(total, offset)
        self.assertEqual(total, st.st_size)
        # The hole ends at or before the last cut and the kept tail has
        # no hole in it.
        fd = os.open(self.log, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        first_data = os.lseek(fd, 0, os.SEEK_DATA)
        self.assertLessEqual(first_data, results[-1].cut_offset)
        self.assertEqual(st.st_size, os.lseek(fd, first_data, os.SEEK_HOLE))

    def test_append_writer_copy_truncate_measures_risk(self):
        pol = make_policy()
        writer, results, removed, total, offset = self.run_writer(
            True, pol, methods=(truncate.COPY,))
        self.assertEqual({truncate.COPY}, {r.method for r in results})
        for res in results:
            self.assertIsInstance(res.bytes_at_risk, int)
            self.assertGreaterEqual(res.bytes_at_risk, 0)
        self.assertNotIn(truncate._TAIL_TMP, os.listdir(self.inst))


class TestTmpfs(EnforceBase):
    """/dev/shm is tmpfs: no collapse-range, so punch-hole is used."""

    root_parent = '/dev/shm'

    def test_falls_back_to_punch_hole(self):
        if not os.path.isdir('/dev/shm'):
            self.skipTest('no /dev/shm')
        data = helpers.lines(0, 40000)
        self.write_log(data)
        res = self.enforce(make_policy(backups=1))
        self.assertEqual(('cut', truncate.PUNCH), (res.action, res.method))
        self.assertIn('collapse_range not possible here', res.notes[0])
        with open(self.log, 'rb') as f:
            kept = f.read()
        self.assertEqual(data[res.cut_offset:], kept[res.cut_offset:])
        self.assertEqual(data[:res.cut_offset], helpers.gunzip(
            os.path.join(self.inst, res.backup)))
        self.assertLess(res.allocated_after, res.allocated_before)

    def test_live_append_writer(self):
        writer = helpers.Writer(self.log, append=True, count=100000)
        self.addCleanup(writer.stop)
        methods = set()
        while not writer.finished():
            res = self.enforce(make_policy())
            methods.add(res.method)
        res = self.enforce(make_policy())
        methods.add(res.method)
        self.assertEqual({truncate.PUNCH}, methods - {None})
        st = os.stat(self.log)
        self.assertEqual(writer.result[0], st.st_size)
        self.assertLessEqual(st.st_blocks * 512,
                             MiB + SLACK_BLOCKS * st.st_blksize)


class TestTinyTmpfs(EnforceBase):
    """A real full disk: a 1 MiB tmpfs mounted for the test (root only)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root to mount a tmpfs')
        mnt = self.useFixture(fixtures.TempDir()).path
        rc = subprocess.call(['mount', '-t', 'tmpfs', '-o', 'size=1m',
                              'tmpfs', mnt])
        if rc:
            self.skipTest('cannot mount a tmpfs here')
        self.addCleanup(subprocess.call, ['umount', mnt])
        self.root = mnt
        self.inst = helpers.make_instance(mnt)
        self.log = os.path.join(self.inst, 'console.log')

    def test_disk_full_while_writing_backup(self):
        # Incompressible-ish text, so the backup cannot fit in what is left.
        data = b''.join(b'%s\n' % os.urandom(48).hex().encode()
                        for _ in range(6000))
        self.write_log(data)
        fd = os.open(os.path.join(self.root, 'filler'),
                     os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b'f' * 4096)
        except OSError as exc:
            self.assertEqual(errno.ENOSPC, exc.errno)
        finally:
            os.close(fd)
        before = helpers.tree(self.root)
        digest = helpers.digest(self.log)
        res = self.enforce(make_policy(max_bytes=256 * KiB,
                                       keep_bytes=64 * KiB, backups=1))
        self.assertEqual(('refused', 'ENOSPC'), (res.action, res.error))
        self.assertIn('backup failed, nothing cut', res.reason)
        self.assertEqual(digest, helpers.digest(self.log))
        self.assertEqual(before, helpers.tree(self.root))
        # Without backups the same log is cut (punch-hole on tmpfs).
        res = self.enforce(make_policy(max_bytes=256 * KiB,
                                       keep_bytes=64 * KiB))
        self.assertEqual(('cut', truncate.PUNCH), (res.action, res.method))
