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

"""Helpers of the worker tests: waiting, test-only job types, lock holders."""

import datetime
import os
import subprocess
import sys
import threading
import time

import fixtures
from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.common import coordination
from cryptkeeper.db import api as db_api
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.unit.worker import target_schema
from cryptkeeper.worker import jobs
from cryptkeeper.worker import service

# Generous: these bound a wait for something that should happen, they do
# not measure how fast it happens.
WAIT = 60

_HOLDER = '''
import sys
from cryptkeeper import conf
from cryptkeeper.common import coordination
conf.CONF([], project='cryptkeeper', default_config_files=[])
conf.CONF.set_override('backend_url', sys.argv[1], group='coordination')
with coordination.lock(sys.argv[2], blocking=False) as got:
    print('held' if got else 'busy', flush=True)
    sys.stdin.read()
coordination.stop()
'''


def wait_for(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('timed out waiting for %s' % what)


def steal(dbapi, job, thief='thief'):
    """Claim ``job`` as another worker, once its lease has run out.

    The lease is made to run out at once, as if its worker had hung.
    """
    table = models.Job.__table__
    with sqla_api.get_engine().begin() as conn:
        conn.execute(sa.update(table).where(table.c.uuid == job.uuid)
                     .values(lease_expires_at=timeutils.utcnow()
                             - datetime.timedelta(seconds=1)))
    stolen = dbapi.claim_job(thief, 60)
    if stolen is None or stolen.uuid != job.uuid:
        raise AssertionError('%s claimed %s, not job %s'
                             % (thief, stolen and stolen.uuid, job.uuid))
    return stolen


def demo_target(test):
    """Configure the target "demo", a small SQLite database.

    :returns: what a census of it finds, table by table.
    """
    path = os.path.join(test.conf_fixture.state_path, 'demo.sqlite')
    engine = sa.create_engine('sqlite:///' + path)
    expected = target_schema.build(engine, now=timeutils.utcnow())
    engine.dispose()
    test.conf_fixture.set_targets(demo='sqlite:///' + path)
    return expected


class WorkerMixin:
    """Workers in the test's own process, with short leases and polls.

    For a base.DbTestCase.
    """

    def setUp(self):
        super().setUp()
        self.config(lease_time=5, heartbeat_interval=1, poll_interval=0.1,
                    target_check_interval=86400, group='worker')
        self.addCleanup(coordination.stop)

    def _start_worker(self):
        worker = service.Worker(host='test-host')
        worker.start()
        self.addCleanup(worker.stop)
        return worker

    def _job(self, job):
        return self.dbapi.get_job(job.uuid)

    def _wait_state(self, job, *states):
        """Wait for the job to reach one of ``states``; by default, to end."""
        states = states or db_api.TERMINAL_STATES
        return wait_for(
            lambda: (lambda j: j if j.state in states else None)(
                self._job(job)),
            'job %s to reach %s' % (job.uuid, states))

    def _audit(self, job):
        return self.dbapi.list_audit(filters={'resource_id': job.uuid})


def lock_in_subprocess(backend_url, name):
    """Try the lock from another process; return (process, 'held'|'busy').

    The process keeps the lock until its stdin is closed.
    """
    proc = subprocess.Popen([sys.executable, '-c', _HOLDER, backend_url,
                             name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def release_subprocess(proc):
    proc.stdin.close()
    proc.wait(WAIT)
    proc.stdout.close()


class BlockingJob(jobs.JobType):
    """Works until interrupted; for cancel, lease and shutdown tests.

    Test-only: registered by the tests, never by the worker itself.
    """

    name = 'test-blocking'

    def __init__(self, finish_anyway=False):
        self.started = threading.Event()
        self.interrupted = threading.Event()
        self.reason = None
        self.finish_anyway = finish_anyway

    def initial_progress(self):
        return {'steps': 0}

    def run(self, job, progress):
        self.started.set()
        steps = 0
        while not progress.wait(0.05):
            steps += 1
            progress.update(steps=steps)
        self.reason = progress.reason
        self.interrupted.set()
        if self.finish_anyway:
            # A runner that ignores the stop request must still not be
            # able to write once its lease is gone.
            return {'late': True}
        progress.check()


class FailingJob(jobs.JobType):
    """Fails with a message carrying a database URL and its password."""

    name = 'test-failing'
    url = 'mysql+pymysql://nova:TopSecret42@db.example.org/nova'

    def run(self, job, progress):
        progress.update(step='connect')
        raise RuntimeError('cannot reach %s (password=TopSecret42)'
                           % self.url)

    def secrets(self, job):
        return ('TopSecret42',)


def register(test, *job_types):
    """Make the worker claim ``job_types`` for the length of a test."""
    registry = dict(jobs._REGISTRY)
    registry.update({t.name: t for t in job_types})
    test.useFixture(fixtures.MonkeyPatch(
        'cryptkeeper.worker.jobs._REGISTRY', registry))
