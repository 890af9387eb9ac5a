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

"""Scanning real instances directories built with qemu-img."""

import json
import os
import shutil
import traceback

import fixtures
import testtools

from cryptkeeper.imagecache import basefiles
from cryptkeeper.imagecache import scan
from cryptkeeper.tests.unit.imagecache import images

H1 = basefiles.image_id_hash('image-1')
H2 = basefiles.image_id_hash('image-2')
H3 = basefiles.image_id_hash('image-3')
NOBODY = 65534


class ScanTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        images.require_qemu_img(self)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.root = os.path.join(self.tmp, 'instances')
        self.storage = images.Storage(self.root)

    def scan(self, **kwargs):
        return scan.scan(self.root, **kwargs)

    def problems(self, result):
        return {(p.path, p.reason) for p in result.problems}

    def assertProblem(self, result, path, text):
        for p in result.problems:
            if p.path == path and text in p.reason:
                return
        self.fail('no problem %r on %s in %s' % (text, path,
                                                 result.problems))

    def instance(self, result, name):
        return next(i for i in result.instances if i.name == name)

    def disk(self, result, instance, name='disk'):
        inst = self.instance(result, instance)
        return next(d for d in inst.disks if d.name == name)


class ChainTest(ScanTestCase):
    """Healthy storages: every kind of chain marks its base files."""

    def test_two_deep_absolute(self):
        self.storage.raw_base(H1)
        self.storage.raw_base(H2)
        self.storage.disk('inst-a', backing=H1)
        result = self.scan()
        self.assertEqual([], result.problems)
        self.assertFalse(result.uncertain)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)
        self.assertEqual([], result.base_files[H2].referenced_by)
        self.assertEqual(basefiles.ORIGINAL, result.base_files[H1].kind)
        self.assertEqual(16 * 1024 * 1024, result.base_files[H1].size)
        disk = self.disk(result, 'inst-a')
        self.assertEqual('qcow2', disk.format)
        self.assertEqual((self.storage.base_path(H1),), disk.chain)
        self.assertEqual((H1,), disk.base_files)

    def test_three_deep_through_resized_base(self):
        self.storage.raw_base(H1)
        # A resized base as a qcow2 overlay of the original, named
        # relative to _base as qemu-img writes it from there.
        self.storage.qcow2_base(H1 + '_10', backing=H1, size='10G')
        self.storage.disk('inst-a', backing=H1 + '_10',
                          backing_fmt='qcow2')
        result = self.scan()
        self.assertEqual([], result.problems)
        disk = self.disk(result, 'inst-a')
        self.assertEqual((H1 + '_10', H1), disk.base_files)
        self.assertEqual(['inst-a/disk'],
                         result.base_files[H1].referenced_by)
        self.assertEqual(basefiles.RESIZED,
                         result.base_files[H1 + '_10'].kind)

    def test_relative_backing_from_instance(self):
        self.storage.raw_base(H1)
        path = self.storage.disk('inst-a', backing=H1, relative=True)
        self.assertEqual('../_base/' + H1, images_backing(path))
        result = self.scan()
        self.assertEqual([], result.problems)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)

    def test_qcow2_v2_disk(self):
        self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1, options=['compat=0.10'])
        result = self.scan()
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)

    def test_every_disk_name_and_kind(self):
        self.storage.raw_base(H1)
        self.storage.raw_base(H2 + '_20')
        self.storage.raw_base(H3 + '_sm')
        self.storage.raw_base('swap_512')
        self.storage.raw_base('ephemeral_20_40d1d2c')
        self.storage.raw_base('ephemeral_1_unused')
        self.storage.raw_base(H1 + '.part')
        self.storage.disk('inst-a', 'disk', backing=H2 + '_20')
        self.storage.disk('inst-a', 'disk.local',
                          backing='ephemeral_20_40d1d2c')
        self.storage.disk('inst-a', 'disk.swap', backing='swap_512')
        self.storage.disk('inst-a', 'disk.eph0', backing=H3 + '_sm')
        self.storage.disk('inst-a', 'disk.rescue', backing=H1)
        images.qemu_img_create(os.path.join(self.root, 'inst-a',
                                            'disk.config'), fmt='raw',
                               size='1M')
        images.qemu_img_create(os.path.join(self.root, 'inst-a',
                                            'disk.config.rescue'),
                               fmt='raw', size='1M')
        self.storage.disk('inst-a', 'disk.other', backing=H1)
        with open(os.path.join(self.root, 'inst-a', 'console.log'),
                  'w') as f:
            f.write('QFI\xfb not a disk')
        info = {os.path.join('/elsewhere/inst-a', 'disk'): 'qcow2',
                os.path.join('/elsewhere/inst-a', 'disk.config'): 'raw'}
        with open(os.path.join(self.root, 'inst-a', 'disk.info'), 'w') as f:
            json.dump(info, f)
        result = self.scan()
        self.assertEqual([], result.problems)
        inst = self.instance(result, 'inst-a')
        self.assertEqual(info, inst.disk_info)
        self.assertEqual(
            ['disk', 'disk.config', 'disk.config.rescue', 'disk.eph0',
             'disk.local', 'disk.other', 'disk.rescue', 'disk.swap'],
            sorted(d.name for d in inst.disks))
        self.assertEqual('qcow2', self.disk(result, 'inst-a').declared_format)
        self.assertEqual('raw',
                         self.disk(result, 'inst-a', 'disk.config').format)
        kinds = {n: b.kind for n, b in result.base_files.items()}
        self.assertEqual({
            H1: 'original', H2 + '_20': 'resized', H3 + '_sm': 'legacy',
            'swap_512': 'swap', 'ephemeral_20_40d1d2c': 'ephemeral',
            'ephemeral_1_unused': 'ephemeral', H1 + '.part': 'other'},
            kinds)
        self.assertEqual(sorted(['inst-a/disk.rescue', 'inst-a/disk.other']),
                         sorted(result.base_files[H1].referenced_by))
        self.assertEqual([], result.base_files['ephemeral_1_unused']
                         .referenced_by)
        self.assertEqual(['inst-a/disk.swap'],
                         result.base_files['swap_512'].referenced_by)

    def test_special_entries_are_skipped_and_orphans_scanned(self):
        self.storage.raw_base(H1)
        os.makedirs(os.path.join(self.root, 'locks'))
        os.makedirs(os.path.join(self.root, 'snapshots'))
        os.makedirs(os.path.join(self.root, '.cryptkeeper-trash'))
        os.makedirs(os.path.join(self.storage.base, '.quarantine'))
        with open(os.path.join(self.root, 'compute_nodes'), 'w') as f:
            f.write('{"c01": 1}')
        with open(os.path.join(self.root, 'notes.txt'), 'w') as f:
            f.write('x')
        # An instance directory no database knows about still counts.
        self.storage.disk('not-in-any-database', backing=H1)
        result = self.scan()
        self.assertEqual([], result.problems)
        self.assertEqual(['not-in-any-database'],
                         [i.name for i in result.instances])
        self.assertEqual(['not-in-any-database/disk'],
                         result.base_files[H1].referenced_by)

    def test_missing_backing_file_is_a_reference(self):
        self.storage.disk('inst-a', backing=H1, unsafe=True)
        result = self.scan()
        self.assertEqual([], result.problems)
        self.assertEqual({H1: ['inst-a/disk']}, result.references)
        self.assertEqual((H1,), self.disk(result, 'inst-a').missing)

    def test_no_base_directory(self):
        os.rmdir(self.storage.base)
        self.storage.disk('inst-a', backing=H1, unsafe=True)
        result = self.scan()
        self.assertEqual([], result.problems)
        self.assertEqual({}, result.base_files)
        self.assertEqual({H1: ['inst-a/disk']}, result.references)

    def test_alias_of_the_instances_path(self):
        self.storage.raw_base(H1)
        self.storage.disk('inst-a',
                          backing='/var/lib/nova/instances/_base/' + H1,
                          unsafe=True)
        result = self.scan()
        self.assertEqual(1, len(result.problems))
        result = self.scan(aliases=['/var/lib/nova/instances'])
        self.assertEqual([], result.problems)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)

    def test_instances_path_through_a_symlink(self):
        # The configured path may itself be a symlink (a mount point
        # moved elsewhere); backing names may use either spelling.
        self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1)
        link = os.path.join(self.tmp, 'link')
        os.symlink(self.root, link)
        result = scan.scan(link)
        self.assertEqual([], result.problems)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)

    def test_keep_instances_false(self):
        self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1)
        self.storage.disk('inst-b', backing=H1)
        result = self.scan(keep_instances=False)
        self.assertEqual([], result.instances)
        self.assertEqual(2, result.instance_count)
        self.assertEqual(2, result.disk_count)
        self.assertEqual(['inst-a/disk', 'inst-b/disk'],
                         sorted(result.base_files[H1].referenced_by))
        json.dumps(result.to_dict())

    def test_bad_base_subdirectory(self):
        for bad in ('', '.', '..', 'a/b'):
            self.assertRaises(ValueError, scan.Scanner, self.root, bad)


def images_backing(path):
    from cryptkeeper.imagecache import qcow2
    return qcow2.read_image_info(path).backing_file


class HostileChainTest(ScanTestCase):
    """Backing names that leave _base are recorded, never followed."""

    def setUp(self):
        super().setUp()
        self.storage.raw_base(H1)
        self.outside = images.qemu_img_create(
            os.path.join(self.tmp, 'outside.raw'), fmt='raw', size='1M')

    def check(self, backing, text, backing_fmt='raw'):
        path = self.storage.disk('inst-a', backing=backing,
                                 backing_fmt=backing_fmt, unsafe=True)
        result = self.scan()
        self.assertProblem(result, path, text)
        self.assertTrue(result.uncertain)
        return result

    def test_absolute_elsewhere(self):
        self.check(self.outside, 'is outside')

    def test_dotdot_escaping(self):
        self.check('../../outside.raw', 'is outside')

    def test_dotdot_inside_absolute(self):
        self.check(self.storage.base + '/../../outside.raw', "'..'")

    def test_dotdot_after_a_directory(self):
        self.check('../_base/x/../' + H1, "'..' after")

    def test_other_instance_directory(self):
        other = self.storage.disk('inst-b')
        self.check(other, 'is outside', backing_fmt='qcow2')

    def test_subdirectory_of_base(self):
        self.check(os.path.join(self.storage.base, '.quarantine', H1),
                   'is outside')

    def test_protocol(self):
        self.check('nbd://example.invalid/x', 'protocol')
        self.check('json:{"file": "x"}', 'protocol')

    def test_file_prefix_is_a_path(self):
        path = self.storage.disk('inst-a', backing='file:' +
                                 self.storage.base_path(H1), unsafe=True)
        result = self.scan()
        self.assertEqual([], result.problems, path)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)

    def test_backing_loop_between_base_files(self):
        images.qemu_img_create(self.storage.base_path(H2), backing=H3,
                               backing_fmt='qcow2', size='1M', unsafe=True)
        images.qemu_img_create(self.storage.base_path(H3), backing=H2,
                               backing_fmt='qcow2', size='1M', unsafe=True)
        result = self.check(H2, 'loops back', backing_fmt='qcow2')
        self.assertEqual({H2, H3}, set(result.references))

    def test_chain_deeper_than_the_cap(self):
        images.qemu_img_create(self.storage.base_path(H2), backing=H1,
                               size='1M')
        images.qemu_img_create(self.storage.base_path(H3), backing=H2,
                               backing_fmt='qcow2', size='1M')
        path = self.storage.disk('inst-a', backing=H3, backing_fmt='qcow2')
        self.assertEqual([], self.scan().problems)
        result = self.scan(max_chain_depth=2)
        self.assertProblem(result, path, 'deeper than 2')
        # What was reached before the cap still counts.
        self.assertEqual({H3, H2}, set(result.references))

    def test_symlinked_base_file(self):
        link = self.storage.base_path(H2)
        os.symlink(self.outside, link)
        path = self.storage.disk('inst-a', backing=H2)
        result = self.scan()
        self.assertProblem(result, link, 'a symlink')
        self.assertProblem(result, path, 'is a symlink; not followed')
        self.assertNotIn(H2, result.base_files)
        # The name stays in use even though the link is not followed.
        self.assertEqual({H2: ['inst-a/disk']}, result.references)

    def test_symlink_loop_in_base(self):
        os.symlink(H3, self.storage.base_path(H2))
        os.symlink(H2, self.storage.base_path(H3))
        path = self.storage.disk('inst-a', backing=H2, unsafe=True)
        result = self.scan()
        self.assertProblem(result, self.storage.base_path(H2), 'a symlink')
        self.assertProblem(result, self.storage.base_path(H3), 'a symlink')
        self.assertProblem(result, path, 'symlink')

    def test_fifo_named_like_a_base_file(self):
        os.mkfifo(self.storage.base_path(H2))
        path = self.storage.disk('inst-a', backing=H2, unsafe=True)
        result = self.scan()
        self.assertProblem(result, self.storage.base_path(H2), 'a FIFO')
        self.assertProblem(result, path, 'not a regular file')
        self.assertNotIn(H2, result.base_files)

    def test_directory_in_base(self):
        os.mkdir(self.storage.base_path(H2))
        result = self.scan()
        self.assertProblem(result, self.storage.base_path(H2),
                           'a directory')

    def test_base_directory_is_a_symlink(self):
        real = os.path.join(self.tmp, 'real_base')
        shutil.move(self.storage.base, real)
        os.symlink(real, self.storage.base)
        result = self.scan()
        self.assertProblem(result, self.storage.base,
                           'a symlink; not followed')
        self.assertEqual({}, result.base_files)

    def test_directory_named_disk(self):
        os.makedirs(os.path.join(self.root, 'inst-a', 'disk'))
        result = self.scan()
        self.assertProblem(result, os.path.join(self.root, 'inst-a', 'disk'),
                           'not a regular file')

    def test_fifo_and_symlink_disks(self):
        inst = self.storage.instance('inst-a')
        os.mkfifo(os.path.join(inst, 'disk.local'))
        os.symlink(self.outside, os.path.join(inst, 'disk'))
        result = self.scan()
        self.assertProblem(result, os.path.join(inst, 'disk.local'),
                           'not a regular file')
        self.assertProblem(result, os.path.join(inst, 'disk'), 'symlink')

    def test_symlinked_instance_directory(self):
        elsewhere = os.path.join(self.tmp, 'elsewhere')
        os.makedirs(elsewhere)
        images.qemu_img_create(os.path.join(elsewhere, 'disk'),
                               backing=self.storage.base_path(H1),
                               size='1M')
        os.symlink(elsewhere, os.path.join(self.root, 'inst-x'))
        result = self.scan()
        self.assertProblem(result, os.path.join(self.root, 'inst-x'),
                           'a symlink')
        self.assertEqual([], result.instances)

    def test_fifo_at_top_level(self):
        os.mkfifo(os.path.join(self.root, 'inst-fifo'))
        result = self.scan()
        self.assertProblem(result, os.path.join(self.root, 'inst-fifo'),
                           'a FIFO')

    def test_truncated_disk_header(self):
        path = self.storage.disk('inst-a', backing=H1)
        os.truncate(path, 100)
        result = self.scan()
        self.assertProblem(result, path, 'unreadable image header')
        self.assertEqual((), self.disk(result, 'inst-a').base_files)

    def test_corrupt_base_header(self):
        images.qemu_img_create(self.storage.base_path(H2), backing=H1,
                               size='1M')
        path = self.storage.disk('inst-a', backing=H2, backing_fmt='qcow2')
        images.patch_header(self.storage.base_path(H2), 16, '>I', 5000)
        result = self.scan()
        self.assertProblem(result, path, 'at most 1023')
        self.assertEqual(['inst-a/disk'], result.base_files[H2].referenced_by)

    def test_non_utf8_backing_name(self):
        path = self.storage.disk('inst-a', backing=H1)
        images.set_backing_name(path, b'/x/\xff')
        result = self.scan()
        self.assertProblem(result, path, 'not valid UTF-8')

    def test_non_utf8_names(self):
        bad_base = os.path.join(os.fsencode(self.storage.base), b'\xff\xfe')
        with open(bad_base, 'wb') as f:
            f.write(b'x')
        bad_inst = os.path.join(os.fsencode(self.root), b'inst-\xff')
        os.mkdir(bad_inst)
        images.qemu_img_create(os.fsdecode(os.path.join(bad_inst, b'disk')),
                               backing=self.storage.base_path(H1),
                               size='1M')
        result = self.scan()
        self.assertProblem(result, self.storage.base + '/\\xff\\xfe',
                           'not valid UTF-8')
        self.assertProblem(result, self.root + '/inst-\\xff',
                           'not valid UTF-8')
        # The odd directory is still scanned: its disk uses H1.
        self.assertEqual(['inst-\\xff/disk'],
                         result.base_files[H1].referenced_by)
        json.dumps(result.to_dict())

    def test_disk_info_corrupt(self):
        inst = self.storage.instance('inst-a')
        with open(os.path.join(inst, 'disk.info'), 'w') as f:
            f.write('{"disk": ')
        result = self.scan()
        self.assertProblem(result, os.path.join(inst, 'disk.info'),
                           'not valid JSON')

    def test_disk_info_says_qcow2_for_raw(self):
        inst = self.storage.instance('inst-a')
        images.qemu_img_create(os.path.join(inst, 'disk'), fmt='raw',
                               size='1M')
        with open(os.path.join(inst, 'disk.info'), 'w') as f:
            json.dump({os.path.join(inst, 'disk'): 'qcow2'}, f)
        result = self.scan()
        self.assertProblem(result, os.path.join(inst, 'disk'),
                           'no qcow2 header')

    def test_external_data_file(self):
        inst = self.storage.instance('inst-a')
        path = images.qemu_img_create(
            os.path.join(inst, 'disk'), size='1M',
            options=['data_file=%s' % os.path.join(inst, 'data')])
        self.assertProblem(self.scan(), path, 'external data file')


class VanishingScanner(scan.Scanner):
    """Removes entries between listing and reading, like a racing host."""

    def __init__(self, *args, remove=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.remove = set(remove)

    def on_entry(self, kind, path):
        if (kind, path) in self.remove:
            self.remove.discard((kind, path))
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


class VanishTest(ScanTestCase):

    def test_base_file_vanishes(self):
        self.storage.raw_base(H1)
        victim = self.storage.raw_base(H2)
        result = VanishingScanner(self.root, remove=[('base', victim)]).scan()
        self.assertProblem(result, victim, 'vanished')
        self.assertIn(H1, result.base_files)

    def test_disk_vanishes(self):
        self.storage.raw_base(H1)
        victim = self.storage.disk('inst-a', backing=H1)
        result = VanishingScanner(self.root,
                                  remove=[('disk', victim)]).scan()
        self.assertProblem(result, victim, 'vanished')

    def test_instance_directory_vanishes(self):
        self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1)
        victim = os.path.join(self.root, 'inst-a')
        result = VanishingScanner(self.root,
                                  remove=[('instance', victim)]).scan()
        self.assertProblem(result, victim, 'vanished')

    def test_backing_file_vanishes_after_listing(self):
        victim = self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1)
        result = VanishingScanner(self.root,
                                  remove=[('backing', victim)]).scan()
        # Listed, then gone when the chain reached it: the name is still
        # referenced, and the file was listed with its size and mtime.
        self.assertIn(H1, result.base_files)
        self.assertEqual(['inst-a/disk'], result.base_files[H1].referenced_by)
        self.assertEqual((H1,), self.disk(result, 'inst-a').missing)

    def test_backing_file_vanishes_before_listing(self):
        self.storage.raw_base(H1)
        self.storage.disk('inst-a', backing=H1)
        base = self.storage.base_path(H1)
        result = VanishingScanner(self.root, remove=[('base', base)]).scan()
        self.assertProblem(result, base, 'vanished')


def _scan_as(uid, root):
    """Scan in a child process that runs as ``uid``; return plain data.

    Root bypasses file permissions, so as root the only honest way to
    meet EACCES is to drop privileges; a fork keeps the code under test
    the same module in the same interpreter.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 0
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            payload = {'result': scan.scan(root).to_dict()}
        except BaseException:
            payload = {'error': traceback.format_exc()}
            status = 1
        with os.fdopen(write_fd, 'w') as out:
            json.dump(payload, out)
        os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        payload = json.load(pipe)
    os.waitpid(pid, 0)
    if 'error' in payload:
        raise AssertionError(payload['error'])
    return payload['result']


class PermissionTest(ScanTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() == 0:
            # The child scanning as nobody must reach the tree.
            os.chmod(self.tmp, 0o755)  # noqa: S103 - read-only for others

    def scan_problems(self):
        if os.geteuid() == 0:
            result = _scan_as(NOBODY, self.root)
            return result['problems'], result['base_files']
        result = self.scan()
        return ([{'path': p.path, 'reason': p.reason}
                 for p in result.problems], result.base_files)

    def test_unreadable_disk_base_and_instance(self):
        self.storage.raw_base(H1)
        unreadable_base = self.storage.qcow2_base(H2, backing=H1, size='1M')
        disk = self.storage.disk('inst-a', backing=H1)
        self.storage.disk('inst-b', backing=H2, backing_fmt='qcow2')
        closed_inst = self.storage.instance('inst-c')
        for path, mode in ((disk, 0o000), (unreadable_base, 0o000),
                           (closed_inst, 0o000)):
            os.chmod(path, mode)
            self.addCleanup(os.chmod, path, 0o755)
        problems, base_files = self.scan_problems()
        found = {(p['path'], p['reason']) for p in problems}
        self.assertIn((disk, 'permission denied'), found)
        self.assertIn((closed_inst, 'permission denied'), found)
        self.assertIn((os.path.join(self.root, 'inst-b', 'disk'),
                       'backing file %s: permission denied'
                       % unreadable_base), found)
        # Listing needs no read permission on the file itself.
        self.assertIn(H2, base_files)

    def test_unreadable_base_directory(self):
        self.storage.raw_base(H1)
        os.chmod(self.storage.base, 0o000)
        self.addCleanup(os.chmod, self.storage.base, 0o755)
        problems, base_files = self.scan_problems()
        self.assertEqual({}, base_files)
        self.assertIn({'path': self.storage.base,
                       'reason': 'cannot open the base directory: '
                                 'permission denied'}, problems)
