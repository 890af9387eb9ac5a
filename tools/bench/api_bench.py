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

"""Benchmark the API's collections and audit appends on MariaDB.

Loads N audit records and M jobs into a fresh MariaDB database, starts a
real cryptkeeper-api (noauth) on it, and prints a table of p50/p99
latencies for the first page and for pages deep in each collection
(marker pagination), and the audit append rate of concurrent writer
processes. Needs the openstack_citest user (tools/test-setup.sh).
"""

import argparse
import datetime
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import sqlalchemy as sa

ADMIN_URL = os.environ.get(
    'CRYPTKEEPER_BENCH_ADMIN_URL',
    'mysql+pymysql://openstack_citest:openstack_citest@127.0.0.1/')
DB_NAME = 'cryptkeeper_bench'


def _url():
    return ADMIN_URL.rstrip('/') + '/' + DB_NAME + '?charset=utf8mb4'


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _configure(url):
    from cryptkeeper import conf
    conf.CONF([], project='cryptkeeper', default_config_files=[])
    conf.CONF.set_override('connection', url, group='database')


def load(url, audits, jobs):
    """Fresh schema, then a valid chain of records and jobs in bulk."""
    admin = sa.create_engine(ADMIN_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql('DROP DATABASE IF EXISTS %s' % DB_NAME)
        conn.exec_driver_sql('CREATE DATABASE %s CHARACTER SET utf8mb4'
                             % DB_NAME)
    _configure(url)
    from cryptkeeper.audit import chain
    from cryptkeeper.db.sqlalchemy import api as sqla_api
    from cryptkeeper.db.sqlalchemy import migration
    from cryptkeeper.db.sqlalchemy import models
    engine = sqla_api.get_engine()
    migration.upgrade('head', engine=engine)

    start = datetime.datetime(2026, 1, 1)
    prev = chain.GENESIS
    batch = []
    actions = ('job.create', 'job.start', 'job.finish', 'job.cancel')
    with engine.begin() as conn:
        for i in range(1, audits + 1):
            when = start + datetime.timedelta(seconds=i)
            rec = {'id': i, 'created_at': when,
                   'request_id': 'req-%d' % i, 'user_id': 'admin',
                   'project_id': 'admin', 'action': actions[i % 4],
                   'resource_type': 'job', 'resource_id': str(uuid.uuid4()),
                   'outcome': 'success', 'reason': None,
                   'details': {'i': i}}
            rec['prev_hash'] = prev
            rec['hash'] = prev = chain.compute_hash(rec, prev)
            batch.append(rec)
            if len(batch) == 5000:
                conn.execute(models.AuditRecord.__table__.insert(), batch)
                batch = []
        if batch:
            conn.execute(models.AuditRecord.__table__.insert(), batch)
        conn.execute(models.AuditHead.__table__.update().values(
            last_id=audits, last_hash=prev))
        rows = [{'uuid': str(uuid.uuid4()), 'type': 'census',
                 'target': 'demo', 'state': 'succeeded', 'params': {},
                 'progress': {}, 'result': {}, 'created_by': 'admin',
                 'cancel_requested': False, 'lease_version': 1,
                 'attempts': 1,
                 'created_at': start + datetime.timedelta(seconds=j),
                 'updated_at': start + datetime.timedelta(seconds=j)}
                for j in range(jobs)]
        for k in range(0, len(rows), 5000):
            conn.execute(models.Job.__table__.insert(), rows[k:k + 5000])
    # The job 200 rows before the end (created_at order): the deepest
    # full page of the collection.
    return rows[max(0, jobs - 200)]['uuid']


def _writer(url, n, count, start):
    _configure(url)
    from cryptkeeper.audit import records
    from cryptkeeper.db import api as db_api
    dbapi = db_api.get_instance()
    dbapi.audit_head()
    start.wait()
    for i in range(count):
        dbapi.append_audit(records.entry(None, 'bench.append',
                                         details={'w': n, 'i': i}))


def appends_per_second(url, writers, count):
    ctx = multiprocessing.get_context('spawn')
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(url, n, count, start))
             for n in range(writers)]
    for p in procs:
        p.start()
    time.sleep(3)  # let every writer import and connect first
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    if any(p.exitcode for p in procs):
        raise SystemExit('an appender failed')
    return writers * count / elapsed


def serve(url, tmp):
    port = _free_port()
    cfg = os.path.join(tmp, 'bench.conf')
    with open(cfg, 'w') as f:
        f.write('[DEFAULT]\nstate_path = %s\n[api]\nauth_strategy = noauth'
                '\nport = %d\n[database]\nconnection = %s\n'
                % (tmp, port, url))
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.Popen(
        [os.path.join(bindir, 'cryptkeeper-api'), '--config-file', cfg],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = 'http://127.0.0.1:%d' % port
    for _ in range(100):
        try:
            requests.get(base + '/', timeout=1)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit('cryptkeeper-api did not start')


WARMUP = 20


def _time_pages(session, url, key, limit, samples, deep_marker):
    # Untimed requests first: the first ones after start-up pay for
    # SQLAlchemy's statement cache and the database's buffer pool.
    for _ in range(WARMUP):
        session.get(url, params={'limit': limit}).raise_for_status()
        session.get(url, params={'limit': limit, 'marker': deep_marker})
    firsts, deeps = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = session.get(url, params={'limit': limit})
        firsts.append(time.perf_counter() - t0)
        r.raise_for_status()
        t0 = time.perf_counter()
        r = session.get(url, params={'limit': limit, 'marker': deep_marker})
        deeps.append(time.perf_counter() - t0)
        r.raise_for_status()
        assert len(r.json()[key]) == limit, 'deep page is short'
    return firsts, deeps


def _pct(values, p):
    values = sorted(values)
    index = int(round(p / 100.0 * (len(values) - 1)))
    return values[min(len(values) - 1, index)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--audits', type=int, default=100000)
    parser.add_argument('--jobs', type=int, default=10000)
    parser.add_argument('--samples', type=int, default=200)
    parser.add_argument('--writers', type=int, default=4)
    parser.add_argument('--appends', type=int, default=250,
                        help='appends per writer')
    args = parser.parse_args()
    url = _url()
    t0 = time.perf_counter()
    deep_job = load(url, args.audits, args.jobs)
    load_s = time.perf_counter() - t0
    rate = appends_per_second(url, args.writers, args.appends)

    with tempfile.TemporaryDirectory() as tmp:
        proc, base = serve(url, tmp)
        try:
            s = requests.Session()
            # A marker near the end of the chain: the deepest page.
            deep_audit = args.audits - 200
            rows = []
            a1, a2 = _time_pages(s, base + '/v1/audit', 'audit', 100,
                                 args.samples, deep_audit)
            rows.append(('GET /v1/audit first page', a1))
            rows.append(('GET /v1/audit at record %d' % deep_audit, a2))
            j1, j2 = _time_pages(s, base + '/v1/jobs', 'jobs', 100,
                                 args.samples, deep_job)
            rows.append(('GET /v1/jobs first page', j1))
            rows.append(('GET /v1/jobs deep page', j2))
        finally:
            proc.terminate()
            proc.wait(10)

    print()
    print('cryptkeeper API benchmark on MariaDB: %d audit records, %d jobs '
          '(loaded in %.1f s), page size 100, %d samples each after %d '
          'untimed warm-up requests'
          % (args.audits, args.jobs, load_s, args.samples, WARMUP))
    print('%-34s %10s %10s %10s' % ('request', 'p50 ms', 'p99 ms', 'max ms'))
    for name, values in rows:
        print('%-34s %10.1f %10.1f %10.1f' % (
            name, statistics.median(values) * 1000, _pct(values, 99) * 1000,
            max(values) * 1000))
    print('%-34s %10.0f' % ('audit appends/s, %d writers' % args.writers,
                            rate))
    print('peak RSS of this driver: %.0f MB' % (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


if __name__ == '__main__':
    main()
