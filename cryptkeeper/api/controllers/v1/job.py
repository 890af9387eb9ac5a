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

"""Jobs: work for the workers, such as a census of a target."""

import datetime

from oslo_utils import timeutils
import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.audit import records
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper import conf
from cryptkeeper.conf import targets
from cryptkeeper.db import api as db_api
from cryptkeeper.purge import errors as purge_errors
from cryptkeeper.purge import journal as purge_journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import profiles

CONF = conf.CONF

# Job types and the parameters each accepts; census takes none.
JOB_PARAMS = {'census': (), 'purge': purge_params.Params.KEYS}
# Purge parameters may also sit at the top level of the body, beside
# type and target: {"type": "purge", "target": "nova", "mode": "archive"}.
TOP_LEVEL_PARAMS = JOB_PARAMS['purge']
# Jobs whose archive a restore may put back.
# An archive job that failed or was cancelled part way still archived
# whole batches; they must be restorable too. A job still running is not.
RESTORABLE_STATES = db_api.TERMINAL_STATES


class Job(base.APIBase):
    """A job and its progress."""

    _fields = ('type', 'target', 'state', 'params', 'progress', 'result',
               'created_by', 'project_id', 'request_id', 'cancel_requested')

    id = wtypes.text
    """UUID of the job."""

    type = wtypes.text
    """What the job does: census or purge."""

    target = wtypes.text
    """Name of the configured target the job works on."""

    state = wtypes.text
    """pending, running, succeeded, partial, failed or cancelled."""

    params = types.jsondict
    """The parameters the job was created with."""

    progress = types.jsondict
    """Counts per step, updated while the job runs."""

    result = types.jsondict
    """What the job found or did, once it has finished."""

    created_at = datetime.datetime
    """When the job was created (UTC)."""

    updated_at = datetime.datetime
    """When the job last changed (UTC)."""

    started_at = datetime.datetime
    """When a worker first claimed the job (UTC)."""

    finished_at = datetime.datetime
    """When the job reached its final state (UTC)."""

    created_by = wtypes.text
    """User id of who created the job."""

    project_id = wtypes.text
    """Project of who created the job."""

    request_id = wtypes.text
    """Request id of the API call that created the job."""

    cancel_requested = bool
    """Whether someone asked to cancel the job."""

    links = [link.Link]
    """Links to the job."""

    @classmethod
    def convert(cls, row):
        return cls.from_row(
            row, id=row.uuid, params=row.params or {},
            result=row.result or None,
            progress=row.progress or {},
            cancel_requested=bool(row.cancel_requested),
            created_at=types.utc(row.created_at),
            updated_at=types.utc(row.updated_at),
            started_at=types.utc(row.started_at),
            finished_at=types.utc(row.finished_at),
            links=[link.Link.make('self', 'v1', 'jobs', row.uuid)])


class JobPost(wtypes.Base):
    """The body of POST /v1/jobs."""

    type = wtypes.wsattr(wtypes.text, mandatory=True)
    """What the job does: census or purge."""

    target = wtypes.wsattr(wtypes.text, mandatory=True)
    """Name of a target from the configuration file."""

    params = types.jsondict
    """Parameters of the job type; census takes none."""

    # Purge parameters given beside type and target; validated by
    # purge.params, not here, so every value is taken as plain JSON.
    mode = types.jsontype
    older_than = types.jsontype
    before = types.jsontype
    tables = types.jsontype
    project_id = types.jsontype
    batch_size = types.jsontype
    max_rows_per_second = types.jsontype
    pause = types.jsontype
    window = types.jsontype
    backend = types.jsontype
    retention_days = types.jsontype
    restore_job = types.jsontype
    cells = types.jsontype


class JobCollection(collection.Collection):
    """A page of jobs."""

    _items = 'jobs'

    jobs = [Job]
    """The jobs of this page."""


def _validate_post(body):
    # WSME lets an explicit null through a mandatory attribute.
    for name in ('type', 'target'):
        if getattr(body, name) is None:
            raise exception.Invalid(reason='%s is required.' % name)
    utils.validate_choice('type', body.type, db_api.JOB_TYPES)
    utils.validate_string('target', body.target)
    if targets.get_target(CONF, body.target) is None:
        raise exception.Invalid(reason=(
            'target %s is not configured; targets come from the '
            'configuration file only.' % body.target))
    params = {}
    if body.params is not wtypes.Unset:
        params = dict(body.params or {})
    for name in TOP_LEVEL_PARAMS:
        value = getattr(body, name)
        if value is wtypes.Unset:
            continue
        if value is None:
            # Leaving a parameter out takes its default; null is no value.
            raise exception.Invalid(reason='%s must not be null.' % name)
        if name in params and params[name] != value:
            raise exception.Invalid(reason=(
                '%s is given both at the top level and in params, with '
                'different values.' % name))
        params[name] = value
    unknown = sorted(set(params) - set(JOB_PARAMS[body.type]))
    if unknown:
        raise exception.Invalid(reason='%s jobs take no parameter %s.'
                                % (body.type, ', '.join(unknown)))
    if body.type == 'purge':
        params = validate_purge(body.target, params)
    return params


def validate_purge(target, params):
    """Validate and normalise purge parameters; raise Invalid (400)."""
    group = targets.get_target(CONF, target)
    # The deployer's defaults are fixed into the job when it is created,
    # so a config change never alters a job already queued or resumed.
    params = dict(params or {})
    if params.get('batch_size') is None:
        params['batch_size'] = CONF.purge.default_batch_size
    if (params.get('mode') == 'purge' and
            params.get('retention_days') is None):
        params['retention_days'] = CONF.purge.default_retention_days
    try:
        parsed = purge_params.Params.from_dict(params, now=timeutils.utcnow())
    except purge_errors.PurgeError as exc:
        raise exception.Invalid(reason=exc.message) from None
    # purge.params checks that each name is an identifier; whether the
    # table exists only the worker can tell, from the reflected schema.
    profile = profiles.get(group.profile)
    for name in parsed.tables or ():
        if profile.is_excluded(name):
            raise exception.Invalid(reason=(
                'table %s is never purged on a %s target.'
                % (name, group.profile)))
    if parsed.cells is not None and group.profile != 'nova_api':
        raise exception.Invalid(reason=(
            'cells applies to nova_api targets only; %s is a %s target.'
            % (target, group.profile)))
    if parsed.mode == 'restore':
        _validate_restore(target, parsed.restore_job)
    return parsed.to_dict()


def _validate_restore(target, restore_job):
    try:
        source = pecan.request.dbapi.get_job(restore_job)
    except exception.JobNotFound:
        raise exception.Invalid(reason=(
            'restore_job %s is not a job.' % restore_job)) from None
    if source.type != 'purge' or (source.params or {}).get(
            'mode') != 'archive':
        raise exception.Invalid(reason=(
            'restore_job %s is not a purge archive job.' % restore_job))
    if source.target != target:
        raise exception.Invalid(reason=(
            'restore_job %s archived target %s, not %s.'
            % (restore_job, source.target, target)))
    if source.state not in RESTORABLE_STATES:
        raise exception.Invalid(reason=(
            'restore_job %s is %s; only a %s archive job can be restored.'
            % (restore_job, source.state, ' or '.join(RESTORABLE_STATES))))
    if not pecan.request.dbapi.journal_batches(
            source.uuid, state=purge_journal.DONE, limit=1):
        raise exception.Invalid(reason=(
            'restore_job %s archived no rows that are not restored '
            'already; there is nothing to restore.' % restore_job))


class JobsController(base.ResourceController):
    """/v1/jobs"""

    _custom_actions = {'cancel': ['POST']}

    @wsme_pecan.wsexpose(JobCollection, wtypes.text, wtypes.text,
                         wtypes.text, int, wtypes.text, wtypes.text,
                         wtypes.text)
    def get_all(self, state=None, type=None, target=None, limit=None,
                marker=None, sort_key='created_at', sort_dir='asc'):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:job:get_all')
        filters = {
            'state': utils.validate_choice('state', state,
                                           db_api.JOB_STATES),
            'type': utils.validate_choice('type', type, db_api.JOB_TYPES),
            'target': utils.validate_string('target', target),
        }
        limit, rows = collection.fetch(
            pecan.request.dbapi.list_jobs, limit, marker, sort_key,
            sort_dir, db_api.JOB_SORT_KEYS, exception.JobNotFound, 'a job',
            filters=filters)
        jobs = [Job.convert(r) for r in rows]
        return JobCollection.page(jobs, limit, 'jobs', lambda j: j.id)

    @wsme_pecan.wsexpose(Job, wtypes.text)
    def get_one(self, job_id):
        policy.enforce(pecan.request.context, 'cryptkeeper:job:get',
                       resource_id=job_id)
        utils.validate_uuid('job id', job_id)
        return Job.convert(pecan.request.dbapi.get_job(job_id))

    @wsme_pecan.wsexpose(Job, body=JobPost, status_code=202)
    def post(self, body):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:job:create')
        params = _validate_post(body)
        values = {'type': body.type, 'target': body.target,
                  'params': params, 'created_by': ctx.user_id,
                  'project_id': ctx.project_id,
                  'request_id': ctx.request_id}
        details = {'type': body.type, 'target': body.target,
                   'params': params}
        row = pecan.request.dbapi.create_job(
            values, records.entry(ctx, 'job.create', details=details))
        job = Job.convert(row)
        pecan.response.location = link.build_url('v1', 'jobs', job.id)
        return job

    @wsme_pecan.wsexpose(Job, wtypes.text, status_code=202)
    def cancel(self, job_id):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:job:cancel', resource_id=job_id)
        utils.validate_uuid('job id', job_id)
        row = pecan.request.dbapi.request_cancel(
            job_id, records.entry(ctx, 'job.cancel'))
        return Job.convert(row)
