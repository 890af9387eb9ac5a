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

"""The scheduler: every worker runs it; exactly one fires each due time.

No leader is elected. Each worker reads the due schedules and tries to
fire them; the database's compare-and-set on ``next_run_at`` lets one
worker win each due time, and the losers simply see nothing to do. A
schedule that was due several times while every worker was down fires
once, for its latest due time, since the next run is counted from now.
"""

from oslo_log import log
from oslo_utils import timeutils

from cryptkeeper.audit import records
from cryptkeeper.common import context
from cryptkeeper.common import cron
from cryptkeeper.common import exception
from cryptkeeper import conf
from cryptkeeper.conf import targets as target_conf
from cryptkeeper.purge import errors as purge_errors

CONF = conf.CONF
LOG = log.getLogger(__name__)

# Schedules read per poll; the rest wait for the next poll.
BATCH = 100


def _params(job_type, params, now):
    if job_type != 'purge':
        return dict(params or {})
    # Imported here: the purge engine is only needed once a schedule is
    # due, and the worker should start without it.
    from cryptkeeper.purge import params as purge_params
    try:
        parsed = purge_params.Params.from_dict(dict(params or {}), now=now)
    except purge_errors.PurgeError as exc:
        raise exception.Invalid(reason=exc.message) from None
    return parsed.to_dict()


def job_values(schedule, now, request_id):
    """The job a fire creates, as POST /v1/jobs would have created it.

    :raises: Invalid when the schedule can no longer make a valid job,
        such as when its target was removed from the configuration.
    """
    if target_conf.get_target(CONF, schedule.target) is None:
        raise exception.Invalid(reason=(
            'target %s is no longer configured; targets come from the '
            'configuration file only.' % schedule.target))
    return {'type': schedule.job_type, 'target': schedule.target,
            'params': _params(schedule.job_type, schedule.params, now),
            'created_by': schedule.created_by,
            'project_id': schedule.project_id,
            'request_id': request_id}


def _next_run(schedule, now):
    try:
        return cron.next_after(schedule.cron, now), None
    except cron.InvalidCron as exc:
        # The API validated it; only a hand-edited row gets here. No next
        # run: the schedule stops, and the audit record says why.
        return None, 'cron: %s' % exc


def fire_one(dbapi, schedule, now, worker_id):
    """Try to fire one due schedule; return the job created, or None."""
    ctx = context.RequestContext(user_id=schedule.created_by,
                                 project_id=schedule.project_id,
                                 overwrite=False)
    next_run_at, reason = _next_run(schedule, now)
    values = None
    if reason is None:
        try:
            values = job_values(schedule, now, ctx.request_id)
        except exception.Invalid as exc:
            reason = exc.kwargs.get('reason') or exc.message
    details = {'schedule': schedule.name, 'worker': worker_id,
               'due_at': _iso(schedule.next_run_at),
               'next_run_at': _iso(next_run_at)}
    audit = records.entry(
        ctx, 'schedule.fire', outcome='success' if values else 'failure',
        reason=reason, details=details, resource_type='schedule',
        resource_id=schedule.uuid)
    job_audit = None
    if values is not None:
        job_audit = records.entry(
            ctx, 'job.create', details={
                'type': values['type'], 'target': values['target'],
                'params': values['params'], 'schedule_id': schedule.uuid})
    won, job = dbapi.fire_schedule(schedule.id, schedule.next_run_at,
                                   next_run_at, now, values, audit,
                                   job_audit)
    if not won:
        LOG.debug('Schedule %s: another worker fired it first',
                  schedule.uuid)
        return None
    if job is None:
        LOG.warning('Schedule %(id)s (%(name)s) did not fire: %(reason)s',
                    {'id': schedule.uuid, 'name': schedule.name,
                     'reason': reason})
    else:
        LOG.info('Schedule %(id)s (%(name)s) created job %(job)s; next run '
                 '%(next)s', {'id': schedule.uuid, 'name': schedule.name,
                              'job': job.uuid, 'next': next_run_at})
    return job


def fire_due_schedules(dbapi, worker_id, now=None):
    """Fire every schedule due at ``now``; return the jobs this worker made.

    A schedule that fails to fire is logged and left to the next poll;
    the others still fire.
    """
    now = now or timeutils.utcnow()
    created = []
    for schedule in dbapi.due_schedules(now, limit=BATCH):
        try:
            job = fire_one(dbapi, schedule, now, worker_id)
        except Exception:
            LOG.exception('Schedule %s: firing failed', schedule.uuid)
            continue
        if job is not None:
            created.append(job)
    return created


def run(dbapi, worker_id, stopping, interval):
    """Poll for due schedules until ``stopping`` (an Event) is set."""
    while not stopping.is_set():
        try:
            fire_due_schedules(dbapi, worker_id)
        except Exception:
            # The database may be down: keep polling rather than die.
            LOG.exception('Worker %s: scheduler error', worker_id)
        stopping.wait(interval)


def _iso(value):
    return value.isoformat() + 'Z' if value is not None else None
