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

"""Schedules: recurring jobs, created by the workers when due."""

import copy
import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import job as job_api
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.audit import records
from cryptkeeper.common import cron
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper import conf
from cryptkeeper.conf import targets
from cryptkeeper.db import api as db_api

CONF = conf.CONF

# What a body may set; the rest of a schedule is the service's to keep.
EDITABLE = ('name', 'cron', 'enabled', 'job')
READ_ONLY = ('id', 'next_run_at', 'last_run_at', 'last_job_id',
             'created_by', 'project_id', 'created_at', 'updated_at',
             'links')
JOB_KEYS = ('type', 'target', 'params')
# A schedule repeats one job; these make sense once, not on every run.
SCHEDULED_MODES = ('plan', 'archive', 'purge')


class ScheduleJob(wtypes.Base):
    """The job a schedule creates each time it fires."""

    type = wtypes.text
    """Job type: purge."""

    target = wtypes.text
    """Name of a target from the configuration file."""

    params = types.jsondict
    """Purge parameters, as POST /v1/jobs takes them."""


class Schedule(base.APIBase):
    """A schedule: when to create which job."""

    _fields = ('name', 'cron', 'enabled', 'last_job_id', 'created_by',
               'project_id')

    id = wtypes.text
    """UUID of the schedule."""

    name = wtypes.text
    """A unique name."""

    cron = wtypes.text
    """Five-field cron expression, evaluated in UTC."""

    enabled = bool
    """Whether the schedule fires."""

    job = ScheduleJob
    """The job it creates."""

    next_run_at = datetime.datetime
    """When it fires next (UTC); null while disabled."""

    last_run_at = datetime.datetime
    """When it last fired (UTC)."""

    last_job_id = wtypes.text
    """UUID of the job it created last."""

    created_by = wtypes.text
    """User id of who created the schedule; its jobs run as theirs."""

    project_id = wtypes.text
    """Project of who created the schedule."""

    created_at = datetime.datetime
    """When the schedule was created (UTC)."""

    updated_at = datetime.datetime
    """When the schedule last changed (UTC)."""

    links = [link.Link]
    """Links to the schedule."""

    @classmethod
    def convert(cls, row):
        return cls.from_row(
            row, id=row.uuid, enabled=bool(row.enabled),
            job=ScheduleJob(type=row.job_type, target=row.target,
                            params=row.params or {}),
            next_run_at=types.utc(row.next_run_at),
            last_run_at=types.utc(row.last_run_at),
            created_at=types.utc(row.created_at),
            updated_at=types.utc(row.updated_at),
            links=[link.Link.make('self', 'v1', 'schedules', row.uuid)])


class ScheduleCollection(collection.Collection):
    """A page of schedules."""

    _items = 'schedules'

    schedules = [Schedule]
    """The schedules of this page."""


def merge_patch(document, patch):
    """Apply a JSON merge patch (RFC 7396) to a copy of ``document``.

    Objects merge key by key; null removes a key; anything else replaces.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _validate_name(name):
    if not isinstance(name, str) or not name.strip():
        raise utils.invalid('name is required and must be a non-empty string.')
    utils.validate_string('name', name)
    if uuidutils.is_uuid_like(name):
        # Clients look a schedule up by name or id; a name that reads as
        # an id would make that ambiguous.
        raise utils.invalid('name must not look like a UUID.')
    return name


def _validate_cron(text):
    try:
        return cron.parse(text)
    except cron.InvalidCron as exc:
        raise utils.invalid('cron: %s' % exc) from None


def _validate_job(spec):
    """Validate the job of a schedule; return (type, target, params)."""
    if not isinstance(spec, dict):
        raise utils.invalid('job is required: an object with type, target and '
                            'params.')
    unknown = sorted(set(spec) - set(JOB_KEYS))
    if unknown:
        raise utils.invalid('job takes no field %s; it has %s.'
                            % (', '.join(unknown), ', '.join(JOB_KEYS)))
    job_type = spec.get('type', 'purge')
    if job_type not in db_api.SCHEDULE_JOB_TYPES:
        raise utils.invalid('job type must be one of %s.'
                            % ', '.join(db_api.SCHEDULE_JOB_TYPES))
    target = spec.get('target')
    if not isinstance(target, str) or not target:
        raise utils.invalid('job target is required.')
    utils.validate_string('target', target)
    if targets.get_target(CONF, target) is None:
        raise utils.invalid('target %s is not configured; targets come from '
                            'the configuration file only.' % target)
    params = spec.get('params') or {}
    if not isinstance(params, dict):
        raise utils.invalid('job params must be an object.')
    unknown = sorted(set(params) - set(job_api.JOB_PARAMS[job_type]))
    if unknown:
        raise utils.invalid('%s jobs take no parameter %s.'
                            % (job_type, ', '.join(unknown)))
    mode = params.get('mode', 'plan')
    if mode not in SCHEDULED_MODES:
        raise utils.invalid('a schedule repeats its job, so its mode must be '
                            'one of %s, not %s.'
                            % (', '.join(SCHEDULED_MODES), mode))
    if params.get('before') is not None:
        raise utils.invalid('a schedule takes older_than, not before: a fixed '
                            'date would select the same rows on every run.')
    # The same checks as POST /v1/jobs; the schedule keeps the params as
    # given, and each fire normalises them again at its own time.
    job_api.validate_purge(target, params)
    return job_type, target, dict(params)


def _validate(doc, now, current=None):
    """Validate a whole schedule document; return its column values.

    :param current: the document before a patch; a job the patch leaves
        as it was is kept unchecked, so a schedule whose target left the
        configuration can still be disabled or renamed.
    """
    unknown = sorted(set(doc) - set(EDITABLE) - set(READ_ONLY))
    if unknown:
        raise utils.invalid('schedules have no field %s.' % ', '.join(unknown))
    read_only = sorted(set(doc) & set(READ_ONLY))
    if read_only:
        raise utils.invalid('%s cannot be set; the service keeps it.'
                            % ', '.join(read_only))
    name = _validate_name(doc.get('name'))
    if doc.get('cron') is None:
        raise utils.invalid('cron is required.')
    expr = _validate_cron(doc['cron'])
    enabled = doc.get('enabled', True)
    if not isinstance(enabled, bool):
        raise utils.invalid('enabled must be true or false.')
    if current is not None and doc.get('job') == current['job']:
        job = current['job']
        job_type, target, params = job['type'], job['target'], job['params']
    else:
        job_type, target, params = _validate_job(doc.get('job'))
    return {'name': name, 'cron': str(expr), 'enabled': enabled,
            'job_type': job_type, 'target': target, 'params': params,
            'next_run_at': expr.next_after(now) if enabled else None}


def _document(row):
    """The editable part of a schedule, as a body would give it."""
    return {'name': row.name, 'cron': row.cron, 'enabled': bool(row.enabled),
            'job': {'type': row.job_type, 'target': row.target,
                    'params': row.params or {}}}


def _details(values):
    return {'name': values['name'], 'cron': values['cron'],
            'enabled': values['enabled'],
            'job': {'type': values['job_type'], 'target': values['target'],
                    'params': values['params']},
            'next_run_at': _iso(values['next_run_at'])}


def _iso(value):
    return types.utc(value).isoformat() if value is not None else None


class SchedulesController(base.ResourceController):
    """/v1/schedules"""

    @wsme_pecan.wsexpose(ScheduleCollection, wtypes.text, wtypes.text,
                         wtypes.text, int, wtypes.text, wtypes.text,
                         wtypes.text)
    def get_all(self, name=None, target=None, enabled=None, limit=None,
                marker=None, sort_key='created_at', sort_dir='asc'):
        policy.enforce(pecan.request.context, 'cryptkeeper:schedule:get_all')
        filters = {'name': utils.validate_string('name', name),
                   'target': utils.validate_string('target', target),
                   'enabled': utils.parse_bool('enabled', enabled)}
        limit, rows = collection.fetch(
            pecan.request.dbapi.list_schedules, limit, marker, sort_key,
            sort_dir, db_api.SCHEDULE_SORT_KEYS, exception.ScheduleNotFound,
            'a schedule', filters=filters)
        items = [Schedule.convert(r) for r in rows]
        return ScheduleCollection.page(items, limit, 'schedules',
                                       lambda s: s.id)

    @wsme_pecan.wsexpose(Schedule, wtypes.text)
    def get_one(self, schedule_id):
        policy.enforce(pecan.request.context, 'cryptkeeper:schedule:get',
                       resource_id=schedule_id)
        utils.validate_uuid('schedule id', schedule_id)
        return Schedule.convert(pecan.request.dbapi.get_schedule(schedule_id))

    @wsme_pecan.wsexpose(Schedule, body=types.jsondict, status_code=201)
    def post(self, body):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:schedule:create')
        values = _validate(utils.json_object(body), timeutils.utcnow())
        values.update(created_by=ctx.user_id, project_id=ctx.project_id)
        row = pecan.request.dbapi.create_schedule(
            values, records.entry(ctx, 'schedule.create',
                                  details=_details(values)))
        schedule = Schedule.convert(row)
        pecan.response.location = link.build_url('v1', 'schedules',
                                                 schedule.id)
        return schedule

    @wsme_pecan.wsexpose(Schedule, wtypes.text, body=types.jsondict)
    def patch(self, schedule_id, body):
        """Change a schedule with a JSON merge patch (RFC 7396)."""
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:schedule:update',
                       resource_id=schedule_id)
        utils.validate_uuid('schedule id', schedule_id)
        patch = utils.json_object(body)
        row = pecan.request.dbapi.get_schedule(schedule_id)
        current = _document(row)
        values = _validate(merge_patch(current, patch), timeutils.utcnow(),
                           current)
        if (values['cron'] == row.cron and
                values['enabled'] == bool(row.enabled)):
            # Only a new cron or a re-enable moves the next run; a name
            # or job change keeps the time already due.
            values['next_run_at'] = row.next_run_at
        changes = utils.changes(row, values, show=_jsonable)
        if not changes:
            return Schedule.convert(row)
        row = pecan.request.dbapi.update_schedule(
            schedule_id, {k: values[k] for k in changes},
            records.entry(ctx, 'schedule.update',
                          details={'changes': changes}))
        return Schedule.convert(row)

    @wsme_pecan.wsexpose(None, wtypes.text, status_code=204)
    def delete(self, schedule_id):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:schedule:delete',
                       resource_id=schedule_id)
        utils.validate_uuid('schedule id', schedule_id)
        pecan.request.dbapi.delete_schedule(
            schedule_id, records.entry(ctx, 'schedule.delete'))


def _jsonable(value):
    if isinstance(value, datetime.datetime):
        return _iso(value)
    return value
