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

"""Reading the backing file of a qcow2 image from its header, in Python."""

import dataclasses
import os
import stat
import struct

QCOW2_MAGIC = b'QFI\xfb'
# Formats that can name a backing file but that this module does not
# parse. A disk in one of them could reference a base file we cannot see,
# so it is reported instead of being taken for raw.
OTHER_BACKING_MAGICS = {
    b'QED\x00': 'qed',
    b'KDMV': 'vmdk',
    b'vhdx': 'vhdx',
}

# Field layout of the fixed header (big-endian), from the qcow2 spec.
_V2_HEADER = struct.Struct('>4sIQIIQIIQQIIQ')
_V3_EXTRA = struct.Struct('>QQQII')
V2_HEADER_LENGTH = _V2_HEADER.size  # 72
V3_MIN_HEADER_LENGTH = V2_HEADER_LENGTH + _V3_EXTRA.size  # 104
_EXT_HEADER = struct.Struct('>II')

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_DATA_FILE = 0x44415441

# qemu refuses cluster sizes outside 512 B .. 2 MiB.
MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21
# qemu keeps the backing name in a 1024-byte buffer with its NUL, so it
# rejects longer names; so do we.
MAX_BACKING_NAME = 1023
# qemu stores the backing format in a 16-byte buffer with its NUL.
MAX_BACKING_FORMAT = 15
# A real image has a handful of extensions; a header with hundreds is
# hostile or broken, and walking it would cost one parse each.
MAX_EXTENSIONS = 256
INCOMPAT_DATA_FILE = 1 << 2

# Read without following a final symlink, without blocking on a FIFO
# that slipped in between listing and opening, and without inheriting.
OPEN_FLAGS = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
              | getattr(os, 'O_NOCTTY', 0))


class InvalidImage(ValueError):
    """The image header cannot be trusted: corrupt, truncated, hostile."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class UnsupportedImage(InvalidImage):
    """A format that may have a backing file this reader cannot parse."""


class NotRegularFile(InvalidImage):
    """The path is a directory, FIFO, device or socket, not an image."""


@dataclasses.dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says: format, backing file and backing format.

    ``format`` is ``qcow2`` or ``raw`` (no qcow2 magic). ``backing_file``
    is the name exactly as stored (a str), or None. ``data_file`` is the
    external data file name when the image has one.
    """

    format: str
    version: int | None = None
    virtual_size: int | None = None
    cluster_size: int | None = None
    backing_file: str | None = None
    backing_format: str | None = None
    data_file: str | None = None


RAW = ImageInfo(format='raw')


def _pread_exact(fd, size, offset, what):
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise InvalidImage('truncated %s: wanted %d bytes at offset %d, '
                           'file has %d' % (what, size, offset,
                                            offset + len(data)))
    return data


def _decode_name(raw, what):
    if b'\x00' in raw:
        raise InvalidImage('%s contains a NUL byte' % what)
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise InvalidImage('%s is not valid UTF-8: %r' % (what, raw)) from None


def _read_extensions(fd, start, end):
    """Return (backing_format, data_file) from the header extensions."""
    if end <= start:
        return None, None
    area = os.pread(fd, end - start, start)
    backing_format = data_file = None
    pos = 0
    for _ in range(MAX_EXTENSIONS):
        if pos + _EXT_HEADER.size > len(area):
            # The area may end without an end marker when the backing
            # name follows right after the last extension; qemu accepts
            # that, and so a short read here is not corruption unless a
            # declared extension runs past the file.
            return backing_format, data_file
        ext_type, ext_len = _EXT_HEADER.unpack_from(area, pos)
        pos += _EXT_HEADER.size
        if ext_type == EXT_END:
            return backing_format, data_file
        if ext_len > end - start - pos:
            raise InvalidImage('header extension 0x%08x of %d bytes runs '
                               'past the header area' % (ext_type, ext_len))
        if pos + ext_len > len(area):
            raise InvalidImage('truncated header extension 0x%08x'
                               % ext_type)
        data = area[pos:pos + ext_len]
        if ext_type == EXT_BACKING_FORMAT:
            if ext_len > MAX_BACKING_FORMAT:
                raise InvalidImage('backing format extension is %d bytes, '
                                   'at most %d allowed'
                                   % (ext_len, MAX_BACKING_FORMAT))
            backing_format = _decode_name(data, 'backing format')
        elif ext_type == EXT_DATA_FILE:
            data_file = _decode_name(data, 'external data file name')
        # Extensions are padded to a multiple of 8 bytes.
        pos += (ext_len + 7) & ~7
    raise InvalidImage('more than %d header extensions' % MAX_EXTENSIONS)


def read_fd(fd):
    """Parse the image header of an open file descriptor.

    Reads only the header, its extensions and the backing name. Raises
    InvalidImage for anything qemu would refuse or we cannot trust, and
    OSError for I/O errors.
    """
    head = os.pread(fd, V3_MIN_HEADER_LENGTH, 0)
    magic = head[:4]
    if magic != QCOW2_MAGIC:
        other = OTHER_BACKING_MAGICS.get(magic)
        if other:
            raise UnsupportedImage('%s image: its backing file cannot be '
                                   'read' % other)
        return RAW
    if len(head) < V2_HEADER_LENGTH:
        raise InvalidImage('truncated qcow2 header: %d bytes' % len(head))
    (_magic, version, backing_offset, backing_size, cluster_bits,
     virtual_size, _crypt, _l1_size, _l1_offset, _rc_offset, _rc_clusters,
     _nb_snapshots, _snap_offset) = _V2_HEADER.unpack_from(head)
    if version not in (2, 3):
        raise UnsupportedImage('qcow2 version %d is not supported' % version)
    if not MIN_CLUSTER_BITS <= cluster_bits <= MAX_CLUSTER_BITS:
        raise InvalidImage('cluster_bits %d outside %d..%d'
                           % (cluster_bits, MIN_CLUSTER_BITS,
                              MAX_CLUSTER_BITS))
    cluster_size = 1 << cluster_bits
    header_length = V2_HEADER_LENGTH
    incompatible = 0
    if version == 3:
        if len(head) < V3_MIN_HEADER_LENGTH:
            raise InvalidImage('truncated qcow2 v3 header: %d bytes'
                               % len(head))
        (incompatible, _compat, _autoclear, _refcount_order,
         header_length) = _V3_EXTRA.unpack_from(head, V2_HEADER_LENGTH)
        if header_length < V3_MIN_HEADER_LENGTH:
            raise InvalidImage('qcow2 v3 header_length %d is below %d'
                               % (header_length, V3_MIN_HEADER_LENGTH))
        if header_length > cluster_size:
            raise InvalidImage('qcow2 header_length %d is larger than a '
                               'cluster' % header_length)
    backing_file = None
    if backing_offset:
        if backing_offset > cluster_size:
            raise InvalidImage('backing file offset %d is beyond the first '
                               'cluster' % backing_offset)
        if backing_offset < header_length:
            raise InvalidImage('backing file offset %d overlaps the header'
                               % backing_offset)
        if backing_size > MAX_BACKING_NAME:
            raise InvalidImage('backing file name is %d bytes, at most %d '
                               'allowed' % (backing_size, MAX_BACKING_NAME))
        if backing_size > cluster_size - backing_offset:
            raise InvalidImage('backing file name runs past the first '
                               'cluster')
        if backing_size:
            raw = _pread_exact(fd, backing_size, backing_offset,
                               'backing file name')
            backing_file = _decode_name(raw, 'backing file name')
    ext_end = backing_offset if backing_offset else cluster_size
    backing_format, data_file = _read_extensions(fd, header_length, ext_end)
    if incompatible & INCOMPAT_DATA_FILE and data_file is None:
        # qemu needs the name from elsewhere then; we cannot tell what
        # file holds the data, so the image cannot be judged.
        raise UnsupportedImage('external data file without a name')
    return ImageInfo(format='qcow2', version=version,
                     virtual_size=virtual_size, cluster_size=cluster_size,
                     backing_file=backing_file,
                     backing_format=backing_format if backing_file else None,
                     data_file=data_file)


def open_regular(path, dir_fd=None):
    """Open a regular file for reading without following a symlink.

    Returns the descriptor with its fstat. Raises NotRegularFile for
    anything else (a symlink raises OSError ELOOP from the kernel).
    """
    fd = os.open(path, OPEN_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile('not a regular file (mode %o)'
                                 % stat.S_IFMT(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_image_info(path, dir_fd=None):
    """Open ``path`` (never through a final symlink) and parse its header.

    Raises InvalidImage (or a subclass) or OSError; never anything else
    for bad input.
    """
    fd, _st = open_regular(path, dir_fd=dir_fd)
    try:
        return read_fd(fd)
    finally:
        os.close(fd)
