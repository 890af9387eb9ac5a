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

"""The worker service: job, target-reachability and schedule loops."""

import os
import signal
import threading

from oslo_log import log
from oslo_utils import uuidutils

from cryptkeeper.common import coordination
from cryptkeeper import conf
from cryptkeeper.db import api as db_api
from cryptkeeper.worker import jobs
from cryptkeeper.worker import progress as ck_progress
from cryptkeeper.worker import runner
from cryptkeeper.worker import scheduler
from cryptkeeper.worker import targets

CONF = conf.CONF
LOG = log.getLogger(__name__)


def make_worker_id(host):
    # host:pid alone repeats when a pid is reused or two workers share a
    # process (the API's embedded worker in tests); the suffix does not.
    return '%s:%d:%s' % (host, os.getpid(), uuidutils.generate_uuid()[:8])


class Worker:
    """Claims and runs jobs in background threads; no eventlet.

    ``stop()`` asks a running job to stop at its next safe point and
    leaves it leased: it is taken over by another worker (or this one,
    restarted) once the lease expires. See :class:`runner.JobRun`.
    """

    def __init__(self, host=None):
        self.host = host or CONF.host
        self.worker_id = make_worker_id(self.host)
        self.dbapi = db_api.get_instance()
        self.checker = targets.TargetChecker(self.dbapi)
        self._stopping = threading.Event()
        self._threads = []
        self._current = None
        self._current_lock = threading.Lock()

    # Life cycle

    def start(self):
        """Start the job, target and schedule loops and return."""
        if self._threads:
            raise RuntimeError('worker %s already started' % self.worker_id)
        self._stopping.clear()
        LOG.info('Worker %s starting; job types: %s', self.worker_id,
                 ', '.join(jobs.names()))
        for name, loop in (('jobs', self._job_loop),
                           ('targets', self._target_loop),
                           ('schedules', self._schedule_loop)):
            thread = threading.Thread(target=loop, daemon=True,
                                      name='%s-%s' % (name, self.worker_id))
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout=30):
        """Stop the loops; wait up to ``timeout`` seconds for each."""
        self._stopping.set()
        with self._current_lock:
            if self._current is not None:
                self._current.progress.interrupt(
                    ck_progress.Progress.SHUTDOWN)
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                # A runner stuck in a long statement; the thread is a
                # daemon, and the job's lease expires on its own.
                LOG.warning('Worker %s: thread %s did not stop in time',
                            self.worker_id, thread.name)
        self._threads = []
        LOG.info('Worker %s stopped', self.worker_id)

    def run(self):
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        def _signalled(signum, frame):
            LOG.info('Worker %s: signal %d, stopping', self.worker_id,
                     signum)
            self._stopping.set()

        signal.signal(signal.SIGTERM, _signalled)
        signal.signal(signal.SIGINT, _signalled)
        self.start()
        try:
            # A timed wait so the main thread stays responsive to signals.
            while not self._stopping.wait(1):
                pass
        finally:
            self.stop()
            coordination.stop()

    @property
    def stopping(self):
        return self._stopping.is_set()

    # Jobs

    def _job_loop(self):
        while not self._stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:
                # The database may be down: keep polling rather than die.
                LOG.exception('Worker %s: job loop error', self.worker_id)
                ran = False
            if not ran:
                self._stopping.wait(CONF.worker.poll_interval)

    def run_once(self):
        """Claim and run at most one job; return True if one ran."""
        job = self.dbapi.claim_job(self.worker_id, CONF.worker.lease_time,
                                   types=jobs.names())
        if job is None:
            return False
        LOG.info('Worker %s claimed job %s (%s on %s, attempt %d)',
                 self.worker_id, job.uuid, job.type, job.target,
                 job.attempts)
        run = runner.JobRun(self.dbapi, job, self.worker_id,
                            jobs.get(job.type), CONF.worker.lease_time,
                            CONF.worker.heartbeat_interval)
        with self._current_lock:
            self._current = run
            if self._stopping.is_set():
                # stop() came between the claim and now.
                run.progress.interrupt(ck_progress.Progress.SHUTDOWN)
        try:
            run.execute()
        finally:
            with self._current_lock:
                self._current = None
        return True

    # Targets

    def _target_loop(self):
        while not self._stopping.is_set():
            try:
                self.checker.check_all()
            except Exception:
                LOG.exception('Worker %s: target check error',
                              self.worker_id)
            self._stopping.wait(CONF.worker.target_check_interval)

    # Schedules

    def _schedule_loop(self):
        # A thread of its own, so a long purge job in the job loop never
        # delays a schedule that falls due meanwhile.
        scheduler.run(self.dbapi, self.worker_id, self._stopping,
                      CONF.worker.poll_interval)
