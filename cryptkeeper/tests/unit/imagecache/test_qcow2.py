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

"""The pure-Python qcow2 header reader against images qemu-img made."""

import errno
import os
import shutil
import struct

import fixtures
import hypothesis
from hypothesis import strategies as st
import testtools

from cryptkeeper.imagecache import qcow2
from cryptkeeper.tests.unit.imagecache import images


class Qcow2HeaderTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        images.require_qemu_img(self)
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.base = images.qemu_img_create(
            os.path.join(self.dir, 'base.raw'), fmt='raw', size='8M')

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_v3_absolute_backing_and_format(self):
        disk = images.qemu_img_create(self.path('disk'), backing=self.base,
                                      backing_fmt='raw', size='16M')
        info = qcow2.read_image_info(disk)
        self.assertEqual('qcow2', info.format)
        self.assertEqual(3, info.version)
        self.assertEqual(self.base, info.backing_file)
        self.assertEqual('raw', info.backing_format)
        self.assertEqual(16 * 1024 * 1024, info.virtual_size)
        self.assertIsNone(info.data_file)

    def test_v2_relative_backing_qcow2_format(self):
        mid = images.qemu_img_create(self.path('mid'), backing='base.raw',
                                     backing_fmt='raw', size=None)
        disk = images.qemu_img_create(self.path('disk'), backing='mid',
                                      backing_fmt='qcow2', size=None,
                                      options=['compat=0.10'])
        info = qcow2.read_image_info(disk)
        self.assertEqual(2, info.version)
        self.assertEqual('mid', info.backing_file)
        self.assertEqual('qcow2', info.backing_format)
        self.assertEqual('base.raw', qcow2.read_image_info(mid).backing_file)

    def test_no_backing(self):
        disk = images.qemu_img_create(self.path('disk'), size='1M')
        info = qcow2.read_image_info(disk)
        self.assertEqual('qcow2', info.format)
        self.assertIsNone(info.backing_file)
        self.assertIsNone(info.backing_format)

    def test_raw_has_no_backing(self):
        self.assertEqual(qcow2.RAW, qcow2.read_image_info(self.base))
        empty = self.path('empty')
        open(empty, 'wb').close()
        self.assertEqual(qcow2.RAW, qcow2.read_image_info(empty))

    def test_external_data_file_is_reported(self):
        disk = images.qemu_img_create(
            self.path('disk'), size='1M',
            options=['data_file=%s' % self.path('data')])
        self.assertEqual(self.path('data'),
                         qcow2.read_image_info(disk).data_file)

    def test_other_backing_formats_are_unsupported(self):
        path = self.path('qed')
        images.qemu_img_create(path, fmt='qed', size='1M')
        self.assertRaises(qcow2.UnsupportedImage, qcow2.read_image_info,
                          path)

    def test_symlink_is_not_followed(self):
        os.symlink(self.base, self.path('link'))
        exc = self.assertRaises(OSError, qcow2.read_image_info,
                                self.path('link'))
        self.assertEqual(errno.ELOOP, exc.errno)

    def test_fifo_and_directory_are_not_images(self):
        os.mkfifo(self.path('fifo'))
        os.mkdir(self.path('dir'))
        # O_NONBLOCK: a FIFO without a writer must not hang the reader.
        self.assertRaises(qcow2.NotRegularFile, qcow2.read_image_info,
                          self.path('fifo'))
        self.assertRaises(qcow2.NotRegularFile, qcow2.read_image_info,
                          self.path('dir'))


class CorruptHeaderTest(testtools.TestCase):
    """Real images with fields overwritten or cut short."""

    def setUp(self):
        super().setUp()
        images.require_qemu_img(self)
        self.dir = self.useFixture(fixtures.TempDir()).path
        base = images.qemu_img_create(os.path.join(self.dir, 'base'),
                                      fmt='raw', size='1M')
        self.disk = images.qemu_img_create(
            os.path.join(self.dir, 'disk'), backing=base, size='1M')

    def assertInvalid(self, text, exc_class=qcow2.InvalidImage):
        exc = self.assertRaises(exc_class, qcow2.read_image_info, self.disk)
        self.assertIn(text, exc.reason)

    def test_every_truncation(self):
        with open(self.disk, 'rb') as f:
            data = f.read(4096)
        name_end = (struct.unpack_from('>Q', data, 8)[0]
                    + struct.unpack_from('>I', data, 16)[0])
        cut = os.path.join(self.dir, 'cut')
        for length in range(name_end):
            with open(cut, 'wb') as f:
                f.write(data[:length])
            if length < 4:
                self.assertEqual(qcow2.RAW, qcow2.read_image_info(cut))
            else:
                self.assertRaises(qcow2.InvalidImage, qcow2.read_image_info,
                                  cut)

    def test_truncated_real_file(self):
        os.truncate(self.disk, 64)
        self.assertInvalid('truncated')

    def test_backing_name_too_long(self):
        images.patch_header(self.disk, 16, '>I', 1024)
        self.assertInvalid('at most 1023')

    def test_backing_offset_beyond_cluster(self):
        images.patch_header(self.disk, 8, '>Q', 1 << 40)
        self.assertInvalid('beyond the first cluster')

    def test_backing_offset_inside_header(self):
        images.patch_header(self.disk, 8, '>Q', 16)
        self.assertInvalid('overlaps the header')

    def test_absurd_cluster_bits(self):
        images.patch_header(self.disk, 20, '>I', 63)
        self.assertInvalid('cluster_bits')

    def test_unknown_version(self):
        images.patch_header(self.disk, 4, '>I', 4)
        self.assertInvalid('version 4', qcow2.UnsupportedImage)

    def test_short_v3_header_length(self):
        images.patch_header(self.disk, 100, '>I', 72)
        self.assertInvalid('header_length')

    def test_non_utf8_backing_name(self):
        images.set_backing_name(self.disk, b'/tmp/\xff\xfe')
        self.assertInvalid('not valid UTF-8')

    def test_nul_in_backing_name(self):
        images.set_backing_name(self.disk, b'/tmp/a\x00b')
        self.assertInvalid('NUL')

    def test_extension_runs_past_area(self):
        with open(self.disk, 'rb') as f:
            header_length = struct.unpack_from('>I', f.read(104), 100)[0]
        images.patch_header(self.disk, header_length + 4, '>I', 60000)
        self.assertInvalid('runs past')

    def test_backing_format_too_long(self):
        with open(self.disk, 'rb') as f:
            header_length = struct.unpack_from('>I', f.read(104), 100)[0]
        # The first extension qemu-img writes is the backing format.
        images.patch_header(self.disk, header_length + 4, '>I', 40)
        self.assertInvalid('backing format')

    @hypothesis.settings(max_examples=300, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(st.lists(st.tuples(st.integers(0, 600),
                                         st.integers(0, 255)),
                               min_size=1, max_size=12),
                      st.integers(0, 1200))
    def test_random_damage_never_crashes(self, edits, length):
        with open(self.disk, 'rb') as f:
            data = bytearray(f.read(1200))
        for offset, value in edits:
            if offset < len(data):
                data[offset] = value
        damaged = os.path.join(self.dir, 'damaged')
        with open(damaged, 'wb') as f:
            f.write(bytes(data[:length]))
        try:
            info = qcow2.read_image_info(damaged)
        except qcow2.InvalidImage:
            return
        self.assertIn(info.format, ('qcow2', 'raw'))
        if info.backing_file is not None:
            self.assertLessEqual(len(info.backing_file.encode()),
                                 qcow2.MAX_BACKING_NAME)


class CopyTemplateTest(testtools.TestCase):
    """A header copied and renamed by hand reads like qemu-img's own."""

    def test_patched_copy(self):
        images.require_qemu_img(self)
        tmp = self.useFixture(fixtures.TempDir()).path
        base = images.qemu_img_create(os.path.join(tmp, 'a' * 40),
                                      fmt='raw', size='1M')
        template = images.qemu_img_create(os.path.join(tmp, 't'),
                                          backing=base, size='1M')
        copy = os.path.join(tmp, 'copy')
        shutil.copy(template, copy)
        images.set_backing_name(copy, b'/x/' + b'b' * 40 + b'_10')
        self.assertEqual('/x/' + 'b' * 40 + '_10',
                         qcow2.read_image_info(copy).backing_file)
