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

"""Run one claimed job: heartbeat, cancellation, fencing and the outcome."""

import threading
import time
import traceback

from oslo_log import log
from oslo_utils import timeutils

from cryptkeeper.audit import records
from cryptkeeper.common import context as ck_context
from cryptkeeper.common import exception
from cryptkeeper.worker import messages
from cryptkeeper.worker import progress as ck_progress

LOG = log.getLogger(__name__)

# Attempts at recording a finished job while the database is briefly
# away; after that the lease expires and another worker runs it again.
FINISH_ATTEMPTS = 3


def job_context(job):
    """Who the job runs for: its creator, so audit records name them."""
    return ck_context.RequestContext(
        user_id=job.created_by, project_id=job.project_id,
        request_id=job.request_id, overwrite=False)


class JobRun:
    """One attempt at one job by one worker.

    The runner works in the calling thread; a heartbeat thread renews the
    lease and publishes progress. What happens at the end depends on why
    the runner stopped:

    * it returned: the job succeeded, or ended ``partial`` when its
      result says ``"outcome": "partial"`` (with a ``reason``);
    * it raised: the job failed, with a message that carries no secret;
    * the job was cancelled: the job ends ``cancelled``;
    * the lease was lost: another worker owns the job now, so this one
      writes nothing more about it;
    * the worker is shutting down: the job is left running and its lease
      runs out, then another worker takes it over. Handing it back at
      once would need a write the fencing rules do not offer, and a job
      must anyway survive a worker that dies without warning.
    """

    def __init__(self, dbapi, job, worker_id, job_type, lease_time,
                 heartbeat_interval):
        self.dbapi = dbapi
        self.job = job
        self.worker_id = worker_id
        self.job_type = job_type
        self.lease_time = lease_time
        self.heartbeat_interval = heartbeat_interval
        self.progress = ck_progress.Progress(job_type.initial_progress())
        self._done = threading.Event()
        self.outcome = None

    def execute(self):
        """Run the job to its end; return the state it ended in, or None."""
        started = timeutils.utcnow()
        clock = time.monotonic()
        heart = threading.Thread(target=self._heartbeat, daemon=True,
                                 name='heartbeat-%s' % self.job.uuid)
        heart.start()
        result, error = None, None
        try:
            result = self.job_type.run(self.job, self.progress)
        except ck_progress.Interrupted:
            pass
        except exception.LeaseLost:
            # A fenced write (a purge batch) found another worker owns the
            # job now: not a failure of the job, and not ours to record.
            self.progress.interrupt(ck_progress.Progress.LEASE_LOST)
        except Exception as exc:
            error = messages.safe_message(
                exc, self.job_type.secrets(self.job))
            # The exception's text, and even a source line, may carry a
            # target's password: log the redacted message, and where it
            # failed as file, line and function only.
            LOG.error('Job %s failed: %s', self.job.uuid, error)
            LOG.debug('Job %s failed at: %s', self.job.uuid, ' <- '.join(
                '%s:%d in %s' % (f.filename, f.lineno, f.name)
                for f in reversed(traceback.extract_tb(exc.__traceback__))))
        finally:
            self._done.set()
            heart.join()
        timing = {'started_at': started.isoformat(),
                  'duration_seconds': round(time.monotonic() - clock, 3)}
        reason = self.progress.reason
        if reason == ck_progress.Progress.LEASE_LOST:
            LOG.warning('Job %s: lease lost to another worker; leaving it',
                        self.job.uuid)
            return None
        if error is not None:
            return self._finish('failed', {'error': error}, timing,
                                outcome='failure', reason=error)
        if result is None and reason == ck_progress.Progress.CANCELLED:
            return self._finish('cancelled', None, timing,
                                outcome='failure',
                                reason='cancelled on request')
        if result is None and reason == ck_progress.Progress.SHUTDOWN:
            LOG.info('Job %s left to be taken over after its lease '
                     'expires: this worker is stopping', self.job.uuid)
            return None
        if isinstance(result, dict) and result.get('outcome') == 'partial':
            # Finished, but with work left undone: never 'succeeded'.
            return self._finish(
                'partial', result, timing, outcome='failure',
                reason=result.get('reason') or 'the job left work undone')
        return self._finish('succeeded', result, timing)

    def _heartbeat(self):
        while not self._done.wait(self.heartbeat_interval):
            if self.progress.reason in (ck_progress.Progress.LEASE_LOST,
                                        ck_progress.Progress.SHUTDOWN):
                # Let the lease run out: the job is someone else's now.
                return
            try:
                cancel = self.dbapi.renew_lease(
                    self.job.id, self.worker_id, self.job.lease_version,
                    self.lease_time, progress=self.progress.snapshot())
            except exception.LeaseLost:
                self.progress.interrupt(ck_progress.Progress.LEASE_LOST)
                return
            except Exception:
                # The database may come back before the lease expires;
                # if it does not, the fence stops this worker later.
                LOG.warning('Job %s: could not renew the lease',
                            self.job.uuid, exc_info=True)
                continue
            if cancel:
                self.progress.interrupt(ck_progress.Progress.CANCELLED)

    def _finish(self, state, result, timing, outcome='success',
                reason=None):
        snapshot = self.progress.snapshot()
        details = dict(timing, state=state, worker=self.worker_id,
                       attempt=self.job.attempts,
                       lease_version=self.job.lease_version,
                       job_type=self.job.type, target=self.job.target,
                       params=self.job.params or {}, progress=snapshot)
        if state in ('succeeded', 'partial'):
            details['summary'] = self.job_type.summary(result)
        audit = records.entry(job_context(self.job), 'job.finish',
                              outcome=outcome, reason=reason,
                              details=details)
        for attempt in range(1, FINISH_ATTEMPTS + 1):
            try:
                self.dbapi.finish_job(self.job.id, self.worker_id,
                                      self.job.lease_version, state, result,
                                      snapshot, audit)
            except exception.LeaseLost:
                LOG.warning('Job %s: lease lost before it could be '
                            'recorded as %s', self.job.uuid, state)
                return None
            except Exception:
                LOG.warning('Job %s: could not record it as %s (attempt '
                            '%d)', self.job.uuid, state, attempt,
                            exc_info=True)
                time.sleep(self.heartbeat_interval)
                continue
            LOG.info('Job %s %s', self.job.uuid, state)
            self.outcome = state
            return state
        return None
