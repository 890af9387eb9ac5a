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

"""Benchmark cryptkeeper's purge archive against nova-manage on MariaDB.

Builds the real Nova cell and API schemas twice with nova-manage (the Nova
of the functional tests, from its cached virtualenv), loads the same
deleted and live instances into both copies, then in one run:

1. copy A: ``nova-manage db archive_deleted_rows --until-complete`` and
   ``nova-manage db purge --all``, timed;
2. copy B: a purge job ``{"type": "purge", "target": "nova", "mode":
   "archive", "older_than": 0}`` created through a real cryptkeeper-api
   (noauth) and run by a real cryptkeeper-worker, timed from creation to
   its end, with the worker's peak RSS;
3. the longest transaction of each, seen from MariaDB
   (information_schema.innodb_trx, polled as often as InnoDB refreshes
   it; performance_schema is usually off and needs a restart);
4. the client-token lookup of EC2 RunInstances (the query Nova's
   ``instance_get_all_by_filters`` makes for a ``system_metadata``
   filter) before and after, median of several runs.

The data set is the issue's: N deleted instances (20,000, or 300,000
with ``--scale``) with 5 system-metadata rows each, plus 1,000 live;
``--full-children`` adds nova_data's metadata, faults, block device
mappings, actions and events. Prints one table. Needs MariaDB with the
openstack_citest user (tools/test-setup.sh) and network access to PyPI
the first time (Nova).
"""

import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..'))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from cryptkeeper.tests.local_fixtures import nova  # noqa: E402
from cryptkeeper.tests.local_fixtures import nova_data  # noqa: E402

DEFAULT_DELETED = 20000
SCALE_DELETED = 300000
DEFAULT_LIVE = 1000

TARGET_RATIO = 20.0
TARGET_RSS_MB = 150.0
TARGET_TXN_S = 1.0

# InnoDB refreshes its information_schema.innodb_trx cache only when
# nobody has read it for 0.1 s (trx_i_s_cache can_cache_be_updated):
# polling faster would keep reading the same stale snapshot.
MONITOR_INTERVAL = 0.11
LOOKUP_RUNS = 9
SQL_SHOWN = 160
JOB_TIMEOUT = 4 * 3600
NOVA_MANAGE_TIMEOUT = 12 * 3600
TERMINAL = ('succeeded', 'failed', 'partial', 'cancelled')

# What nova.db.main.api._exact_instance_filter builds for
# filters={'deleted': False, 'system_metadata': {'EC2_client_token': T}}
# (compiled from Nova's own models): one EXISTS for the key and one for
# the value, with no deleted condition on the metadata rows.
NOVA_LOOKUP = sa.text(
    'SELECT instances.uuid FROM instances '
    'WHERE instances.deleted = 0 '
    'AND (EXISTS (SELECT 1 FROM instance_system_metadata '
    'WHERE instances.uuid = instance_system_metadata.instance_uuid '
    'AND instance_system_metadata.`key` = :key)) '
    'AND (EXISTS (SELECT 1 FROM instance_system_metadata '
    'WHERE instances.uuid = instance_system_metadata.instance_uuid '
    'AND instance_system_metadata.value = :value))')
# The same question as a plain join, as the issue words it.
JOIN_LOOKUP = sa.text(
    'SELECT instances.uuid FROM instances '
    'JOIN instance_system_metadata '
    'ON instances.uuid = instance_system_metadata.instance_uuid '
    'WHERE instance_system_metadata.`key` = :key '
    'AND instance_system_metadata.value = :value '
    'AND instances.deleted = 0')


def _log(msg):
    print('[%s] %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr,
          flush=True)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def _db_name(url):
    return sa.engine.make_url(url).database


# -- measuring ---------------------------------------------------------------

class TxnMonitor(threading.Thread):
    """Every transaction of some databases, as InnoDB lists them.

    A transaction is seen from the first poll that lists it to the last,
    so its true duration is the span seen plus up to two poll intervals;
    one shorter than an interval may not be seen at all. The database of
    a transaction is its connection's current database (processlist).
    Read-only transactions all show id 0, so a transaction is its
    connection, id and start second, seen in consecutive polls.
    """

    def __init__(self, url, interval=MONITOR_INTERVAL):
        super().__init__(daemon=True)
        self.engine = sa.create_engine(
            url, isolation_level='AUTOCOMMIT', pool_size=1)
        self.interval = interval
        self.databases = set()
        self.spans = []
        self.polls = 0
        self.error = None
        self._active = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def watch(self, databases):
        with self._lock:
            self.databases = set(databases)
            self.spans = []
            self._active = {}

    def run(self):
        query = sa.text(
            'SELECT t.trx_mysql_thread_id, t.trx_id, t.trx_started, p.DB, '
            't.trx_rows_modified, t.trx_query '
            'FROM information_schema.innodb_trx t '
            'JOIN information_schema.processlist p '
            'ON p.ID = t.trx_mysql_thread_id')
        try:
            with self.engine.connect() as conn:
                while not self._halt.is_set():
                    rows = conn.execute(query).fetchall()
                    self._record(rows, time.monotonic())
                    self._halt.wait(self.interval)
        except Exception as exc:
            self.error = exc

    def _record(self, rows, now):
        with self._lock:
            self.polls += 1
            active = {}
            for thread, trx, started, db, modified, sql in rows:
                if db not in self.databases:
                    continue
                key = (thread, trx, started)
                span = self._active.get(key)
                if span is None:
                    span = [now, now, 0, []]
                    self.spans.append(span)
                span[1] = now
                span[2] = max(span[2], modified or 0)
                # What it was running when seen: says which step of a
                # tool a long transaction belongs to.
                sql = ' '.join((sql or '').split())[:SQL_SHOWN]
                if sql and sql not in span[3] and len(span[3]) < 3:
                    span[3].append(sql)
                active[key] = span
            # Not listed in this poll: ended, even if the same key comes
            # back (a new read-only transaction on the same connection).
            self._active = active

    def stop(self):
        self._halt.set()
        self.join(10)
        self.engine.dispose()

    def summary(self):
        """{"txns", "longest", "longest_write", "longest_sql"} (seconds)."""
        with self._lock:
            spans = [(last - first, modified, sql)
                     for first, last, modified, sql in self.spans]
        longest = max(spans, default=(0.0, 0, []), key=lambda s: s[0])
        return {'txns': len(spans), 'longest': longest[0],
                'longest_sql': longest[2],
                'longest_write': max((s for s, m, _ in spans if m),
                                     default=0.0)}


def _run_measured(cmd, log, timeout, env=None):
    """Run ``cmd``; return (returncode, seconds, peak RSS in MB)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    deadline = t0 + timeout
    while True:
        # wait4 gives this one child's own peak RSS, not the maximum over
        # every child this process ever had.
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit('%s did not finish within %d s'
                             % (' '.join(cmd), timeout))
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, elapsed, usage.ru_maxrss / 1024.0


def _vm_hwm_mb(pid):
    """Peak resident set of a live process so far (VmHWM), in MB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return None


def lookup_ms(url, query, runs=LOOKUP_RUNS, token=None):
    """Median ms of ``query`` for a client token, after one warm-up.

    A new token each run, as each RunInstances brings its own (and no
    cache can answer it); ``token`` looks up an existing one instead.
    """
    engine = sa.create_engine(url)
    times = []
    found = None
    try:
        with engine.connect() as conn:
            for i in range(runs + 1):
                value = token or str(uuid.uuid4())
                t0 = time.perf_counter()
                found = conn.execute(query, {
                    'key': nova_data.CLIENT_TOKEN_KEY,
                    'value': value}).fetchall()
                if i:
                    times.append((time.perf_counter() - t0) * 1000.0)
                conn.rollback()
    finally:
        engine.dispose()
    return statistics.median(times), len(found)


def live_token(url):
    """The client token of some live instance."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT m.value FROM instance_system_metadata m '
                'JOIN instances i ON i.uuid = m.instance_uuid '
                'WHERE i.deleted = 0 AND m.`key` = :key LIMIT 1'),
                {'key': nova_data.CLIENT_TOKEN_KEY}).scalar()
    finally:
        engine.dispose()


def row_counts(url, tables, shadow=False):
    """{table: rows} (or rows of ``shadow_<table>``)."""
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            for name in tables:
                real = 'shadow_' + name if shadow else name
                if real in names:
                    # The name was just reflected from the database.
                    table = sa.table(real)
                    out[name] = conn.execute(
                        sa.select(sa.func.count()).select_from(
                            table)).scalar()
    finally:
        engine.dispose()
    return out


# -- the two copies ----------------------------------------------------------

class Copy:
    """One Nova cell + API database pair built by nova-manage and loaded."""

    def __init__(self, label, stack):
        self.label = label
        self.dbs = stack.enter_context(nova.NovaDatabases('mysql'))
        self.schema = stack.enter_context(
            nova.NovaSchemaFixture(self.dbs.cell_url, self.dbs.api_url))

    def load(self, args, now):
        t0 = time.monotonic()
        summary = nova_data.load(
            self.dbs.cell_engine, self.dbs.api_engine,
            deleted=args.deleted, live=args.live, now=now, seed=args.seed,
            chunk_size=args.load_chunk, **_per_instance(args))
        self.load_s = time.monotonic() - t0
        return summary

    def counts(self):
        return (row_counts(self.dbs.cell_url, nova_data.CELL_TABLES),
                row_counts(self.dbs.api_url, nova_data.API_TABLES))


def _per_instance(args):
    kwargs = {'sysmeta_per_instance': args.sysmeta}
    if not args.full_children:
        # The data set: system metadata only. nova_data still
        # gives each instance its instance_extra and instance_info_caches
        # row, as every Nova instance has.
        kwargs.update(metadata_per_instance=0, faults_per_instance=0,
                      bdms_per_instance=0, actions_per_instance=0)
    return kwargs


def run_nova_manage(copy, monitor, workdir):
    """archive --until-complete then purge --all on ``copy``."""
    venv = copy.schema.venv
    base = [os.path.join(venv, 'bin', 'nova-manage'), '--config-file',
            copy.schema.config_file]
    log_path = os.path.join(workdir, 'nova-manage-bench.log')
    env = nova.cached_venv.clean_env()
    out = {}
    monitor.watch([_db_name(copy.dbs.cell_url), _db_name(copy.dbs.api_url)])
    with open(log_path, 'ab') as log:
        rc, out['archive_s'], out['archive_rss'] = _run_measured(
            base + ['db', 'archive_deleted_rows', '--until-complete',
                    '--verbose'], log, NOVA_MANAGE_TIMEOUT, env)
        if rc not in (0, 1):
            raise SystemExit('nova-manage archive exited %d; see %s'
                             % (rc, log_path))
        out['shadow'] = row_counts(copy.dbs.cell_url,
                                   nova_data.CELL_TABLES, shadow=True)
        rc, out['purge_s'], out['purge_rss'] = _run_measured(
            base + ['db', 'purge', '--all'], log, NOVA_MANAGE_TIMEOUT, env)
        if rc not in (0, 3):
            raise SystemExit('nova-manage purge exited %d; see %s'
                             % (rc, log_path))
    out.update(monitor.summary())
    out['seconds'] = out['archive_s'] + out['purge_s']
    out['rss'] = max(out['archive_rss'], out['purge_rss'])
    return out


# -- cryptkeeper -------------------------------------------------------------

class Cryptkeeper:
    """A cryptkeeper-api and cryptkeeper-worker aimed at one copy."""

    def __init__(self, copy, stack, workdir, ck_db):
        self.copy = copy
        self.workdir = workdir
        if ck_db == 'sqlite':
            self.url = 'sqlite:///' + os.path.join(workdir, 'ck.sqlite')
        else:
            self.url = nova.provision_databases(
                _Cleanups(stack), 'mysql', 'ck_bench', ('ck',))['ck']
        self.port = _free_port()
        self.base = 'http://127.0.0.1:%d' % self.port
        self.config_file = os.path.join(workdir, 'cryptkeeper.conf')
        with open(self.config_file, 'w') as f:
            f.write(
                '[DEFAULT]\n'
                'state_path = %(state)s\n'
                'targets = nova, nova_api\n'
                '[api]\n'
                'auth_strategy = noauth\n'
                'port = %(port)d\n'
                '[database]\n'
                'connection = %(url)s\n'
                '[worker]\n'
                'poll_interval = 0.1\n'
                'target_check_interval = 3600\n'
                '[target:nova]\n'
                'profile = nova\n'
                'connection = %(cell)s\n'
                'api_target = nova_api\n'
                '[target:nova_api]\n'
                'profile = nova_api\n'
                'connection = %(api)s\n'
                % {'state': workdir, 'port': self.port, 'url': self.url,
                   'cell': copy.dbs.cell_url, 'api': copy.dbs.api_url})
        os.chmod(self.config_file, 0o600)
        self.log = open(os.path.join(workdir, 'cryptkeeper.log'), 'ab')
        stack.callback(self.log.close)
        self.stack = stack

    def _cmd(self, name, *args):
        return [_bin(name), '--config-file', self.config_file, *args]

    def prepare(self):
        subprocess.run(self._cmd('cryptkeeper-manage', 'db', 'sync'),
                       stdout=self.log, stderr=subprocess.STDOUT,
                       check=True)

    def _spawn(self, name):
        proc = subprocess.Popen(self._cmd(name), stdout=self.log,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.stack.callback(_terminate, proc)
        return proc

    def start(self):
        self.api = self._spawn('cryptkeeper-api')
        self.worker = self._spawn('cryptkeeper-worker')
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for proc in (self.api, self.worker):
                if proc.poll() is not None:
                    raise SystemExit('%s exited %d; see %s' % (
                        proc.args[0], proc.returncode, self.log.name))
            try:
                requests.get(self.base + '/', timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise SystemExit('cryptkeeper-api did not start')
        # The worker has imported everything and polls for jobs once its
        # first target check is recorded.
        while time.monotonic() < deadline:
            targets = requests.get(self.base + '/v1/targets',
                                   timeout=10).json().get('targets', [])
            if targets and all(t.get('checked_at') for t in targets):
                return
            time.sleep(0.2)

    def run_job(self, params, monitor):
        monitor.watch([_db_name(self.copy.dbs.cell_url),
                       _db_name(self.copy.dbs.api_url)])
        body = dict(params, type='purge', target='nova')
        t0 = time.monotonic()
        resp = requests.post(self.base + '/v1/jobs', json=body, timeout=30)
        if resp.status_code >= 300:
            raise SystemExit('POST /v1/jobs: %d %s'
                             % (resp.status_code, resp.text))
        job_id = resp.json()['id']
        peak = 0.0
        while True:
            job = requests.get(self.base + '/v1/jobs/' + job_id,
                               timeout=30).json()
            if job['state'] in TERMINAL:
                break
            peak = max(peak, _vm_hwm_mb(self.worker.pid) or 0.0)
            if time.monotonic() - t0 > JOB_TIMEOUT:
                raise SystemExit('job %s still %s after %d s'
                                 % (job_id, job['state'], JOB_TIMEOUT))
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        peak = max(peak, _vm_hwm_mb(self.worker.pid) or 0.0)
        out = {'job': job, 'seconds': elapsed, 'rss': peak}
        out.update(monitor.summary())
        return out


class _Cleanups:
    """What nova.provision_databases needs of a fixture: addCleanup."""

    def __init__(self, stack):
        self.stack = stack

    def addCleanup(self, func, *args, **kwargs):
        self.stack.callback(func, *args, **kwargs)


def _terminate(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- report -----------------------------------------------------------------

def _batch_timings(job):
    """Longest batch transaction the job itself reports, if it does."""
    result = job.get('result') or {}
    for key in ('longest_batch_s', 'max_batch_seconds', 'longest_txn_s'):
        value = result.get(key) or (result.get('timings') or {}).get(key)
        if value is not None:
            return float(value), key
    return None, None


def report(args, loaded, before, after_a, after_b, nm, ck, lookups,
           shadow_b):
    """Print the table; ``nm`` and ``after_a`` are None without copy A."""
    cell0, api0 = before
    result = ck['job'].get('result') or {}
    # What the job says it archived: cell tables, then the API tables of
    # its follow-up.
    reported = dict(result.get('tables') or {})
    reported.update((result.get('followups') or {}).get('tables') or {})

    def removed(counts0, counts1, name):
        if counts1 is None or name not in counts0 or name not in counts1:
            return None
        return counts0[name] - counts1[name]

    def nm_value(key, fmt_=None):
        if nm is None:
            return '-'
        return fmt_(nm[key]) if fmt_ else nm[key]

    print()
    print('Purge benchmark on MariaDB %s: %d deleted + %d live instances, '
          '%d system-metadata rows each%s, seed %d (each copy loaded in '
          '%.0f s)' % (args.server_version, args.deleted, args.live,
                       args.sysmeta,
                       ' and nova_data\'s other children'
                       if args.full_children else
                       ' (+ one instance_extra and info cache)',
                       args.seed, loaded))
    print('cryptkeeper: job %s, batch size %s, own DB on %s, created '
          'through cryptkeeper-api (noauth), run by cryptkeeper-worker'
          % (ck['job']['id'], (result.get('params') or {}).get(
              'batch_size', args.batch_size), args.ck_db))
    print('load average (1 min) at start, before nova-manage, before '
          'cryptkeeper, at end: %s on %d CPUs' % (
              ', '.join('%.1f' % v for v in args.loads), os.cpu_count()))
    print()
    fmt = '%-28s %12s %14s %12s %12s'
    print(fmt % ('table', 'rows before', 'nova-manage', 'cryptkeeper',
                 'ck reported'))
    cell_a, api_a = after_a or (None, None)
    cell_b, api_b = after_b
    for names, c0, ca, cb in (
            (nova_data.CELL_TABLES, cell0, cell_a, cell_b),
            (nova_data.API_TABLES, api0, api_a, api_b)):
        for name in names:
            print(fmt % (name, c0.get(name, '-'),
                         _fmt(removed(c0, ca, name)),
                         _fmt(removed(c0, cb, name)),
                         _fmt((reported.get(name) or {}).get('archived'))))
    print(fmt % ('(in cell shadow tables)', '',
                 nm_value('shadow', lambda v: str(sum(v.values()))),
                 _fmt(sum(shadow_b.values())), ''))
    print()
    fmt = '%-40s %14s %14s %12s'
    print(fmt % ('measure', 'nova-manage', 'cryptkeeper', 'target'))
    print(fmt % ('wall time s (archive + purge)',
                 nm_value('seconds', '{:.1f}'.format),
                 '%.1f' % ck['seconds'], ''))
    if nm is not None:
        print(fmt % ('  of which archive / purge --all s',
                     '%.1f / %.1f' % (nm['archive_s'], nm['purge_s']),
                     '', ''))
        ratio = nm['seconds'] / ck['seconds'] if ck['seconds'] else 0.0
        print(fmt % ('speed-up (nova-manage / cryptkeeper)', '',
                     '%.1fx' % ratio, '>= %.0fx %s' % (
                         TARGET_RATIO, _ok(ratio >= TARGET_RATIO))))
    print(fmt % ('peak RSS MB (process)', nm_value('rss', '{:.0f}'.format),
                 '%.0f' % ck['rss'], '< %.0f %s' % (
                     TARGET_RSS_MB, _ok(ck['rss'] < TARGET_RSS_MB))))
    print(fmt % ('longest transaction s (innodb_trx)',
                 nm_value('longest', _span), _span(ck['longest']),
                 '< %.0f %s' % (TARGET_TXN_S, _txn_ok(ck['longest']))))
    print(fmt % ('longest writing transaction s',
                 nm_value('longest_write', _span),
                 _span(ck['longest_write']), ''))
    print(fmt % ('transactions seen', nm_value('txns'), ck['txns'], ''))
    run_s = (result.get('timings') or {}).get('run_seconds')
    if run_s is not None:
        print(fmt % ('job run_seconds (its own timing)', '',
                     '%.1f' % run_s, ''))
    batch_s, key = _batch_timings(ck['job'])
    if batch_s is not None:
        print(fmt % ('longest batch s (job result: %s)' % key, '',
                     '%.2f' % batch_s, ''))
    for label, (before_ms, a_ms, b_ms) in lookups.items():
        print(fmt % ('lookup ms %s before' % label, '%.1f' % before_ms,
                     '%.1f' % before_ms, ''))
        print(fmt % ('lookup ms %s after' % label, _fmt_ms(a_ms),
                     _fmt_ms(b_ms), ''))
    print()
    print('Lookups: median of %d runs after one warm-up; "new token" is '
          'the idempotency check every RunInstances makes (no match), '
          '"live token" finds an existing instance. Nova\'s query is two '
          'EXISTS on instance_system_metadata (as instance_get_all_by_'
          'filters builds it); "join" is the plain join.' % args.lookups)
    print('Transactions: information_schema.innodb_trx polled every '
          '%.0f ms (InnoDB refreshes it no faster), connections on the '
          'copy\'s cell and API databases; a duration is given as seen '
          'to seen + two polls. performance_schema is %s.'
          % (MONITOR_INTERVAL * 1000, args.performance_schema))
    for who, out in (('nova-manage', nm), ('cryptkeeper', ck)):
        if out and out['longest_sql']:
            print('Longest %s transaction was running: %s' % (
                who, ' | '.join(out['longest_sql'])))
    print('Peak RSS: nova-manage from wait4() of each process; the worker '
          'from /proc/<pid>/status VmHWM (whole life, start-up included).')
    state = ck['job']['state']
    if state != 'succeeded':
        print('cryptkeeper job ended %s: %s' % (
            state, (ck['job'].get('result') or {}).get('reason') or
            ck['job'].get('result')))
    print('driver peak RSS: %.0f MB' % (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


def _fmt_ms(value):
    return '-' if value is None else '%.1f' % value


def _fmt(value):
    return '-' if value is None else str(value)


def _ok(flag):
    return 'ok' if flag else 'MISSED'


def _span(seen):
    # What polling can say: at least what was seen, at most two polls
    # more.
    return '%.2f-%.2f' % (seen, seen + 2 * MONITOR_INTERVAL)


def _txn_ok(seen):
    if seen + 2 * MONITOR_INTERVAL < TARGET_TXN_S:
        return 'ok'
    return 'MISSED' if seen >= TARGET_TXN_S else 'unsure'


def _server_version(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text('SELECT VERSION()')).scalar()
    finally:
        engine.dispose()
    return re.sub(r'-.*', '', version)


def _performance_schema(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT @@performance_schema')).scalar() and 'on' or 'off'
    finally:
        engine.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deleted', type=int, default=DEFAULT_DELETED,
                        help='deleted instances (default %(default)s)')
    parser.add_argument('--scale', action='store_true',
                        help='%d deleted instances' % SCALE_DELETED)
    parser.add_argument('--live', type=int, default=DEFAULT_LIVE)
    parser.add_argument('--sysmeta', type=int, default=5,
                        help='system-metadata rows per instance')
    parser.add_argument('--full-children', action='store_true',
                        help='also metadata, faults, block device '
                             'mappings, actions and events per instance '
                             '(nova_data\'s defaults)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='purge job batch_size (default: the job\'s)')
    parser.add_argument('--ck-db', choices=('mysql', 'sqlite'),
                        default='mysql',
                        help="cryptkeeper's own database")
    parser.add_argument('--lookups', type=int, default=LOOKUP_RUNS)
    parser.add_argument('--no-nova-manage', action='store_true',
                        help='skip copy A and nova-manage (no ratio)')
    parser.add_argument('--dump', metavar='FILE',
                        help='write the finished job (JSON) to FILE')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--load-chunk', type=int, default=1000)
    args = parser.parse_args()
    if args.scale:
        args.deleted = SCALE_DELETED
    args.lookups = max(1, args.lookups)

    args.loads = [os.getloadavg()[0]]
    _log('installing or checking the cached Nova virtualenv')
    nova.ensure_venv()
    now = datetime.datetime.utcnow().replace(microsecond=0)
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(
            tempfile.TemporaryDirectory(prefix='ck-purge-bench-'))
        _log('building Nova cell + API schemas with nova-manage')
        copy_a = None if args.no_nova_manage else Copy('A', stack)
        copy_b = Copy('B', stack)
        copies = [c for c in (copy_a, copy_b) if c is not None]
        args.server_version = _server_version(copy_b.dbs.cell_url)
        args.performance_schema = _performance_schema(copy_b.dbs.cell_url)
        for copy in copies:
            _log('loading %d deleted + %d live instances into copy %s'
                 % (args.deleted, args.live, copy.label))
            copy.load(args, now)
        loaded = max(c.load_s for c in copies)
        before = copy_b.counts()
        if copy_a is not None and before != copy_a.counts():
            raise SystemExit('the two copies differ after loading')

        monitor = TxnMonitor(copy_b.dbs.cell_url)
        monitor.start()
        stack.callback(monitor.stop)

        token = live_token(copy_b.dbs.cell_url)
        queries = collections.OrderedDict((
            ("(nova's query, new token)", (NOVA_LOOKUP, None)),
            ("(nova's query, live token)", (NOVA_LOOKUP, token)),
            ('(join, new token)', (JOIN_LOOKUP, None)),
        ))
        _log('timing the client-token lookup before')
        lookups_before = {label: lookup_ms(copy_b.dbs.cell_url, q,
                                           args.lookups, t)[0]
                          for label, (q, t) in queries.items()}

        nm = after_a = None
        args.loads.append(os.getloadavg()[0])
        if copy_a is not None:
            _log('nova-manage db archive_deleted_rows --until-complete + '
                 'db purge --all on copy A')
            nm = run_nova_manage(copy_a, monitor, workdir)
            after_a = copy_a.counts()

        _log('cryptkeeper purge archive job on copy B')
        args.loads.append(os.getloadavg()[0])
        ck = Cryptkeeper(copy_b, stack, workdir, args.ck_db)
        ck.prepare()
        ck.start()
        params = {'mode': 'archive', 'older_than': 0}
        if args.batch_size:
            params['batch_size'] = args.batch_size
        ck_out = ck.run_job(params, monitor)
        if args.dump:
            with open(args.dump, 'w') as f:
                json.dump(ck_out['job'], f, indent=1, sort_keys=True)
        after_b = copy_b.counts()
        shadow_b = row_counts(copy_b.dbs.cell_url, nova_data.CELL_TABLES,
                              shadow=True)
        if monitor.error:
            raise SystemExit('transaction monitor failed: %s'
                             % monitor.error)

        _log('timing the client-token lookup after')
        lookups = collections.OrderedDict()
        for label, (q, t) in queries.items():
            lookups[label] = (
                lookups_before[label],
                lookup_ms(copy_a.dbs.cell_url, q, args.lookups, t)[0]
                if copy_a is not None else None,
                lookup_ms(copy_b.dbs.cell_url, q, args.lookups, t)[0])

        args.loads.append(os.getloadavg()[0])
        report(args, loaded, before, after_a, after_b, nm, ck_out, lookups,
               shadow_b)
        if ck_out['job']['state'] != 'succeeded':
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
