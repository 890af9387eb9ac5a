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

CONF = conf.CONF

# Job types and the parameters each accepts; census takes none.
JOB_PARAMS = {'census': ()}


class Job(base.APIBase):
    """A job and its progress."""

    _fields = ('type', 'target', 'state', 'params', 'progress', 'result',
               'created_by', 'project_id', 'request_id', 'cancel_requested')

    id = wtypes.text
    """UUID of the job."""

    type = wtypes.text
    """What the job does: census."""

    target = wtypes.text
    """Name of the configured target the job works on."""

    state = wtypes.text
    """pending, running, succeeded, failed or cancelled."""

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
    """What the job does: census."""

    target = wtypes.wsattr(wtypes.text, mandatory=True)
    """Name of a target from the configuration file."""

    params = types.jsondict
    """Parameters of the job type; census takes none."""


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
    params = body.params if body.params is not wtypes.Unset else {}
    unknown = sorted(set(params or {}) - set(JOB_PARAMS[body.type]))
    if unknown:
        raise exception.Invalid(reason='%s jobs take no parameter %s.'
                                % (body.type, ', '.join(unknown)))
    return params or {}


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
        limit = utils.validate_limit(limit)
        utils.validate_sort(sort_key, sort_dir, db_api.JOB_SORT_KEYS)
        utils.validate_uuid('marker', marker)
        try:
            rows = pecan.request.dbapi.list_jobs(
                filters=filters, limit=limit + 1, marker=marker,
                sort_key=sort_key, sort_dir=sort_dir)
        except exception.JobNotFound:
            raise exception.Invalid(reason='marker %s is not a job.'
                                    % marker) from None
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
