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

"""Real qcow2 images and instances directories for the image-cache tests."""

import os
import shutil
import struct
import subprocess

QEMU_IMG = shutil.which('qemu-img')


def require_qemu_img(test):
    """Skip without qemu-img, except in CI, where its absence is a failure.

    CI installs qemu-utils (.ci/run); a skip there would hide the tests
    that matter most.
    """
    if QEMU_IMG:
        return
    if os.environ.get('CI'):
        test.fail('qemu-img is not installed but CI is set: install '
                  'qemu-utils')
    test.skipTest('qemu-img is not installed (Debian package qemu-utils)')


def qemu_img_create(path, fmt='qcow2', size='1G', backing=None,
                    backing_fmt=None, options=(), unsafe=False):
    cmd = [QEMU_IMG or 'qemu-img', 'create', '-q', '-f', fmt]
    if backing is not None:
        cmd += ['-b', backing, '-F', backing_fmt or 'raw']
        if unsafe:
            # Backing files that do not exist or loop: qemu-img would
            # refuse to open them, and these tests need exactly those.
            cmd.append('-u')
    for option in options:
        cmd += ['-o', option]
    cmd += [path]
    if size is not None:
        cmd.append(size)
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def patch_header(path, offset, fmt, value):
    """Overwrite one header field of an image (for corrupt-header tests)."""
    with open(path, 'r+b') as f:
        f.seek(offset)
        f.write(struct.pack(fmt, value))


def set_backing_name(path, raw_name):
    """Replace the backing name bytes in place, keeping its offset."""
    with open(path, 'r+b') as f:
        f.seek(8)
        offset = struct.unpack('>Q', f.read(8))[0]
        f.seek(offset)
        f.write(raw_name)
        f.seek(16)
        f.write(struct.pack('>I', len(raw_name)))


class Storage:
    """An instances directory with a base directory, built with qemu-img."""

    def __init__(self, root, base_subdirectory='_base'):
        self.root = root
        self.base = os.path.join(root, base_subdirectory)
        os.makedirs(self.base, exist_ok=True)

    def base_path(self, name):
        return os.path.join(self.base, name)

    def raw_base(self, name, size='16M'):
        return qemu_img_create(self.base_path(name), fmt='raw', size=size)

    def qcow2_base(self, name, backing, backing_fmt='raw', size=None,
                   **kwargs):
        # qemu-img resolves a relative backing name against the new
        # image's directory, the same rule the scanner follows.
        return qemu_img_create(self.base_path(name), backing=backing,
                               backing_fmt=backing_fmt, size=size, **kwargs)

    def instance(self, name):
        path = os.path.join(self.root, name)
        os.makedirs(path, exist_ok=True)
        return path

    def disk(self, instance, name='disk', backing=None, backing_fmt='raw',
             relative=False, size='32M', **kwargs):
        directory = self.instance(instance)
        # A bare name means a base file; anything with a slash or a
        # protocol is written into the header exactly as given.
        if backing is not None and not any(c in backing for c in '/:'):
            backing = self.base_path(backing)
        if backing is not None and relative:
            backing = os.path.relpath(backing, directory)
        return qemu_img_create(os.path.join(directory, name),
                               backing=backing, backing_fmt=backing_fmt,
                               size=size, **kwargs)
