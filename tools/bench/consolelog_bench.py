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

"""Benchmark console-log enforcement methods and a measuring sweep.

Writes a real (not sparse) console log of --scale GiB, enforces a 1 MiB
policy on it by each method (collapse-range, punch-hole, copy-truncate)
and prints wall time and bytes read and written; then measures a sweep
over --instances instance directories with small logs. Run it on the
filesystem you care about (--dir): collapse-range needs ext4 or XFS.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

from cryptkeeper.consolelog import fdinfo  # noqa: E402
from cryptkeeper.consolelog import measure  # noqa: E402
from cryptkeeper.consolelog import policy  # noqa: E402
from cryptkeeper.consolelog import truncate  # noqa: E402

GiB = 1 << 30
MiB = 1 << 20
XML = (b'<domain><metadata><nova:instance xmlns:nova='
       b'"http://openstack.org/xmlns/libvirt/nova/1.1"><nova:owner>'
       b'<nova:project uuid="%s">p</nova:project></nova:owner>'
       b'</nova:instance></metadata></domain>')


def write_log(path, size):
    """Real data, written in 8 MiB slabs of numbered console lines."""
    slab = b''.join(b'[%10d.000000] kernel: console line %08d filler text'
                    b' to look like a busy guest\n' % (i, i)
                    for i in range(100000))
    slab = (slab * (8 * MiB // len(slab) + 1))[:8 * MiB]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        left = size
        while left > 0:
            left -= os.write(fd, slab[:min(left, len(slab))])
        # Dirty pages would make collapse time include writeback.
        os.fsync(fd)
    finally:
        os.close(fd)


def bench_methods(base, size, ignore):
    pol = policy.Policy(name='bench', max_bytes=MiB, keep_bytes=MiB,
                        mode='enforce').validate()
    rows = []
    for method in truncate.METHODS:
        inst = str(uuid.uuid4())
        os.mkdir(os.path.join(base, inst))
        path = os.path.join(base, inst, 'console.log')
        write_log(path, size)
        start = time.perf_counter()
        res = truncate.enforce(base, inst, pol, methods=(method,),
                               ignore_pids=ignore)
        wall = time.perf_counter() - start
        rows.append((method, res, wall))
        shutil.rmtree(os.path.join(base, inst))
    return rows


def bench_sweep(base, count):
    root = os.path.join(base, 'sweep')
    os.mkdir(root)
    line = b'x' * 79 + b'\n'
    for i in range(count):
        inst = os.path.join(root, str(uuid.uuid4()))
        os.mkdir(inst)
        with open(os.path.join(inst, 'console.log'), 'wb') as f:
            f.write(line * (10 + i % 50))
        with open(os.path.join(inst, 'libvirt.xml'), 'wb') as f:
            f.write(XML % uuid.uuid4().hex.encode())
    timings = []
    for with_holders in (False, True):
        start = time.perf_counter()
        seen = sum(1 for _ in measure.scan(root, with_holders=with_holders))
        timings.append((with_holders, seen, time.perf_counter() - start))
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=float, default=1.0,
                        help='console.log size in GiB (0.01 to 5.5)')
    parser.add_argument('--instances', type=int, default=10000)
    parser.add_argument('--dir', default=None,
                        help='where to work (default: a temporary dir)')
    args = parser.parse_args()
    if not 0.01 <= args.scale <= 5.5:
        parser.error('--scale must be from 0.01 to 5.5')
    base = tempfile.mkdtemp(prefix='ck-consolelog-bench-', dir=args.dir)
    # Processes this host will not let us inspect (a container's init)
    # are not console writers; without this only punch-hole is trusted.
    _found, status = fdinfo.scan(set())
    ignore = tuple(status.unreadable_pids)
    try:
        size = int(args.scale * GiB)
        rows = bench_methods(base, size, ignore)
        print('console.log of %.2f GiB -> keep 1 MiB (dir %s)'
              % (size / GiB, base))
        print('%-15s %-8s %10s %14s %14s %14s'
              % ('method', 'action', 'wall ms', 'bytes read',
                 'bytes written', 'allocated'))
        for method, res, wall in rows:
            print('%-15s %-8s %10.1f %14d %14d %14d'
                  % (method, res.action, wall * 1000, res.bytes_read,
                     res.bytes_written, res.allocated_after or 0))
            if res.action != 'cut':
                print('    %s %s' % (res.reason, res.notes))
        walls = {m: w for m, _r, w in rows}
        print('collapse/copy-truncate wall-time ratio: %.5f'
              % (walls[truncate.COLLAPSE] / walls[truncate.COPY]))
        print()
        print('%-22s %10s %10s' % ('sweep', 'instances', 'wall s'))
        for with_holders, seen, wall in bench_sweep(base, args.instances):
            print('%-22s %10d %10.3f' % (
                'measure+holders' if with_holders else 'measure', seen,
                wall))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    main()
