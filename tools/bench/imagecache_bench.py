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

"""Benchmark of the image-cache scan and verdict on a large fake storage."""

import argparse
import datetime
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..'))

from cryptkeeper.imagecache import basefiles  # noqa: E402
from cryptkeeper.imagecache import scan  # noqa: E402
from cryptkeeper.imagecache import verdict  # noqa: E402

BLOCK = 4096
DAY = 86400
VIRTUAL_SIZE = 1 << 30


def _template(workdir):
    """A qemu-img made qcow2 overlay and the non-zero blocks of it.

    Copying those blocks (the rest stays a hole) gives a valid sparse
    qcow2 file per disk at the cost of a few small writes, which is
    what makes 50,000 of them quick to build.
    """
    fake_base = os.path.join(workdir, 'b' * 40)
    path = os.path.join(workdir, 'template.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-u',
                    '-b', fake_base, '-F', 'raw', path, str(VIRTUAL_SIZE)],
                   check=True)
    with open(path, 'rb') as f:
        data = f.read()
    blocks = [(off, data[off:off + BLOCK])
              for off in range(0, len(data), BLOCK)
              if data[off:off + BLOCK].strip(b'\x00')]
    backing_offset = struct.unpack_from('>Q', data, 8)[0]
    return blocks, backing_offset, len(data)


def _write_disk(path, blocks, backing_offset, size, backing):
    name = backing.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        for off, block in blocks:
            if off == 0:
                block = bytearray(block)
                struct.pack_into('>I', block, 16, len(name))
                block[backing_offset:backing_offset + 1024] = (
                    name.ljust(1024, b'\x00'))
                block = bytes(block[:BLOCK])
            os.pwrite(fd, block, off)
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def base_names(count):
    names = []
    for i in range(count):
        image_hash = basefiles.image_id_hash('bench-image-%d' % i)
        # About a third of a busy cache is resized copies.
        names.append(image_hash + '_%d' % (10 + i % 50) if i % 3 == 2
                     else image_hash)
    return names


def build(root, bases, instances, seed):
    """Make the storage: sparse raw bases, instance dirs, qcow2 disks."""
    # Seeded for repeatable layouts, not for secrecy.
    rng = random.Random(seed)  # noqa: S311
    base_dir = os.path.join(root, '_base')
    os.makedirs(base_dir)
    old = time.time() - 30 * DAY
    names = base_names(bases)
    for name in names:
        path = os.path.join(base_dir, name)
        with open(path, 'wb') as f:
            f.truncate(VIRTUAL_SIZE)
        os.utime(path, (old, old))
    blocks, backing_offset, size = _template(root)
    os.unlink(os.path.join(root, 'template.qcow2'))
    # A fifth of the bases end up unreferenced: the candidates.
    used = names[:max(1, bases * 4 // 5)]
    for i in range(instances):
        inst = os.path.join(root, str(uuid.UUID(int=i + 1)))
        os.mkdir(inst)
        disk = os.path.join(inst, 'disk')
        _write_disk(disk, blocks, backing_offset, size,
                    os.path.join(base_dir, rng.choice(used)))
        with open(os.path.join(inst, 'disk.info'), 'w') as f:
            json.dump({disk: 'qcow2'}, f)


def rss_mb():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(args):
    # On a slow disk, building is bound by file creation (about 1 ms a
    # file on this machine's ext4); --dir /dev/shm builds in seconds.
    workdir = args.dir or tempfile.mkdtemp(prefix='imagecache-bench-')
    root = os.path.join(workdir, 'instances')
    rows = []
    try:
        if not os.path.isdir(root):
            started = time.monotonic()
            # Built in a child so the peak RSS below is the sweep's own.
            subprocess.run([sys.executable, os.path.abspath(__file__),
                            '--build-only', root, '--bases', str(args.bases),
                            '--instances', str(args.instances),
                            '--seed', str(args.seed)], check=True)
            rows.append(('build storage', time.monotonic() - started, ''))
        rss_before = rss_mb()

        started = time.monotonic()
        result = scan.scan(root, keep_instances=not args.summary_only)
        scan_s = time.monotonic() - started
        rows.append(('scan', scan_s, '%d bases, %d instances, %d disks, '
                     '%d problems' % (len(result.base_files),
                                      result.instance_count,
                                      result.disk_count,
                                      len(result.problems))))

        now = datetime.datetime.now(datetime.timezone.utc)
        rng = random.Random(args.seed)  # noqa: S311
        db_refs = {'bench-image-%d' % rng.randrange(args.bases)
                   for _ in range(args.instances // 2)}
        liveness = {'c%02d' % n: verdict.HostState(True, 'up')
                    for n in range(1, 11)}
        policy = verdict.Policy(action='quarantine', interval=2400)
        started = time.monotonic()
        first = verdict.decide(result, liveness=liveness, now=now,
                               db_references=db_refs, policy=policy)
        verdict_s = time.monotonic() - started
        counts = {}
        for fv in first.files.values():
            counts[fv.verdict] = counts.get(fv.verdict, 0) + 1
        rows.append(('verdict (1st sweep)', verdict_s,
                     ', '.join('%s %d' % kv for kv in sorted(counts.items()))))
        started = time.monotonic()
        second = verdict.decide(
            result, liveness=liveness,
            now=now + datetime.timedelta(seconds=2400),
            db_references=db_refs, policy=policy, history=first.history())
        counts = {}
        for fv in second.files.values():
            counts[fv.verdict] = counts.get(fv.verdict, 0) + 1
        rows.append(('verdict (2nd sweep)', time.monotonic() - started,
                     ', '.join('%s %d' % kv for kv in sorted(counts.items()))))
        rows.append(('sweep = scan + verdict', scan_s + verdict_s, ''))
        peak = rss_mb()
    finally:
        if not args.dir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print('image-cache benchmark: %d base files, %d instance directories '
          'in %s' % (args.bases, args.instances, root))
    print('%-24s %10s  %s' % ('step', 'seconds', 'detail'))
    print('-' * 78)
    for step, seconds, detail in rows:
        print('%-24s %10.2f  %s' % (step, seconds, detail))
    print('-' * 78)
    print('%-24s %10.1f  (before the scan: %.1f MiB; keep_instances=%s)'
          % ('peak RSS (MiB)', peak, rss_before, not args.summary_only))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--bases', type=int, default=2000)
    parser.add_argument('--instances', type=int, default=5000)
    parser.add_argument('--seed', type=int, default=4)
    parser.add_argument('--dir', help='build (or reuse) the storage in '
                        'this directory, and keep it')
    parser.add_argument('--keep', action='store_true',
                        help='keep the temporary storage')
    parser.add_argument('--summary-only', action='store_true',
                        help='scan with keep_instances=False')
    parser.add_argument('--build-only', metavar='ROOT',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_only:
        build(args.build_only, args.bases, args.instances, args.seed)
        return 0
    run(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
