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

"""The OpenAPI 3 description of the API, served at /v1/openapi.json.

It is written out here rather than derived, and a unit test walks the
controller tree and fails when a route is missing from it.
"""

import copy
import re

from cryptkeeper.audit import records
from cryptkeeper import conf
from cryptkeeper.db import api as db_api
from cryptkeeper import version

CONF = conf.CONF

_REF = '#/components/schemas/%s'


def _ref(name):
    return {'$ref': _REF % name}


def _str(**kw):
    return dict(type='string', **kw)


def _nullable(schema):
    return dict(schema, nullable=True)


_TIME = _str(format='date-time')
_LINKS = {'type': 'array', 'items': _ref('Link')}
_OBJECT = {'type': 'object', 'additionalProperties': True}


def _collection(key, item):
    """A page of a collection: its items, and the next page's URL."""
    return {'type': 'object', 'required': [key],
            'properties': {key: {'type': 'array', 'items': _ref(item)},
                           'next': _str(format='uri')}}


# Purge parameters (purge jobs only; purge/params.py checks them).
_PURGE_PARAMS = {
    'mode': _str(enum=['plan', 'archive', 'purge', 'restore'],
                 description='plan (default, read-only), archive, purge '
                             'or restore.'),
    'older_than': {'type': 'integer', 'minimum': 0, 'maximum': 36500,
                   'description': 'Rows deleted at least this many days '
                                  'ago; exclusive with before.'},
    'before': _str(format='date-time',
                   description='Rows deleted before this time (not in '
                               'the future).'),
    'tables': {'type': 'array', 'items': _str(),
               'description': 'Only these tables (and their '
                              'dependents); opt-in tables only when named.'},
    'project_id': _str(description='Only rows of this project.'),
    'batch_size': {'type': 'integer', 'minimum': 1, 'maximum': 10000},
    'max_rows_per_second': {'type': 'number', 'minimum': 1,
                            'maximum': 1000000, 'nullable': True},
    'pause': {'type': 'number', 'minimum': 0, 'maximum': 3600,
              'description': 'Seconds to wait between batches.'},
    'window': _str(pattern=r'^\d\d:\d\d-\d\d:\d\d$',
                   description='Maintenance window HH:MM-HH:MM (UTC); '
                               'outside it the job waits.'),
    'backend': _str(enum=['shadow', 'database', 'files']),
    'retention_days': {'type': 'integer', 'minimum': 0,
                       'description': 'purge mode: archived rows kept '
                                      'this many days.'},
    'restore_job': _str(format='uuid',
                        description='restore mode: the archive job whose '
                                    'rows go back.'),
    'cells': _str(enum=['all'], description='nova_api targets: fan out '
                                            'over the cells.'),
}

SCHEMAS = {
    'Error': {
        'type': 'object', 'required': ['error'],
        'properties': {'error': {
            'type': 'object', 'required': ['code', 'title', 'message'],
            'properties': {'code': {'type': 'integer'}, 'title': _str(),
                           'message': _str()}}}},
    'Link': {'type': 'object', 'required': ['href', 'rel'],
             'properties': {'href': _str(), 'rel': _str()}},
    'Version': {
        'type': 'object', 'required': ['id', 'status', 'links'],
        'properties': {'id': _str(), 'status': _str(), 'links': _LINKS}},
    'Versions': {
        'type': 'object', 'required': ['versions', 'default_version'],
        'properties': {'versions': {'type': 'array',
                                    'items': _ref('Version')},
                       'default_version': _ref('Version')}},
    'V1': {
        'type': 'object', 'required': ['id', 'links', 'resources'],
        'properties': {'id': _str(), 'links': _LINKS, 'resources': {
            'type': 'object', 'additionalProperties': {
                'type': 'object', 'properties': {'links': _LINKS}}}}},
    'Job': {
        'type': 'object',
        'required': ['id', 'type', 'target', 'state', 'params', 'progress',
                     'result', 'created_at', 'created_by',
                     'cancel_requested', 'links'],
        'properties': {
            'id': _str(format='uuid'),
            'type': _str(enum=list(db_api.JOB_TYPES)),
            'target': _str(),
            'state': _str(enum=list(db_api.JOB_STATES)),
            'params': _OBJECT, 'progress': _OBJECT,
            'result': _nullable(_OBJECT),
            'created_at': _TIME, 'updated_at': _nullable(_TIME),
            'started_at': _nullable(_TIME),
            'finished_at': _nullable(_TIME),
            'created_by': _nullable(_str()),
            'project_id': _nullable(_str()),
            'request_id': _nullable(_str()),
            'cancel_requested': {'type': 'boolean'},
            'links': _LINKS}},
    'JobCreate': {
        'type': 'object', 'required': ['type', 'target'],
        'additionalProperties': False,
        'properties': {
            'type': _str(enum=list(db_api.JOB_TYPES)),
            'target': _str(maxLength=255,
                           description='A target from the configuration '
                                       'file.'),
            'params': {'type': 'object', 'nullable': True,
                       'description': 'Parameters of the job type: '
                                      'census takes none; purge takes '
                                      'the properties below, here or at '
                                      'the top level.'},
            **_PURGE_PARAMS}},
    'JobCollection': _collection('jobs', 'Job'),
    'AuditRecord': {
        'type': 'object',
        'required': ['id', 'created_at', 'action', 'outcome', 'details',
                     'prev_hash', 'hash', 'links'],
        'properties': dict(
            {k: _nullable(_str()) for k in (
                'request_id', 'user_id', 'project_id', 'resource_type',
                'resource_id', 'reason')},
            id={'type': 'integer', 'minimum': 1}, created_at=_TIME,
            action=_str(), outcome=_str(enum=list(records.OUTCOMES)),
            details=_OBJECT, prev_hash=_str(), hash=_str(),
            links=_LINKS)},
    'AuditCollection': _collection('audit', 'AuditRecord'),
    'Verification': {
        'type': 'object',
        'required': ['valid', 'records', 'head', 'first_broken', 'reason'],
        'properties': {'valid': {'type': 'boolean'},
                       'records': {'type': 'integer'}, 'head': _str(),
                       'first_broken': _nullable({'type': 'integer'}),
                       'reason': _nullable(_str())}},
    'Target': {
        'type': 'object',
        'required': ['name', 'profile', 'connection', 'reachable',
                     'checked_at', 'error', 'links'],
        'properties': {
            'name': _str(), 'profile': _str(),
            'connection': _nullable(_str(
                description='URL with the password masked.')),
            'api_target': _nullable(_str()),
            'reachable': _nullable({'type': 'boolean'}),
            'checked_at': _nullable(_TIME), 'error': _nullable(_str()),
            'links': _LINKS}},
    'TargetCollection': _collection('targets', 'Target'),
    'Census': {
        'type': 'object', 'additionalProperties': True,
        'required': ['job_id', 'target', 'finished_at'],
        'properties': {'job_id': _str(format='uuid'), 'target': _str(),
                       'finished_at': _nullable(_TIME),
                       'tables': {'type': 'array', 'items': _OBJECT}}},
    'ScheduleJob': {
        'type': 'object', 'required': ['target'],
        'additionalProperties': False,
        'properties': {
            'type': _str(enum=list(db_api.SCHEDULE_JOB_TYPES),
                         default='purge'),
            'target': _str(maxLength=255,
                           description='A target from the configuration '
                                       'file.'),
            'params': {'type': 'object', 'additionalProperties': False,
                       'description': 'Purge parameters as for POST '
                                      '/v1/jobs; mode plan, archive or '
                                      'purge; older_than, never before.',
                       'properties': {
                           k: v for k, v in _PURGE_PARAMS.items()
                           if k not in ('before', 'restore_job')}}}},
    'Schedule': {
        'type': 'object',
        'required': ['id', 'name', 'cron', 'enabled', 'job', 'next_run_at',
                     'last_run_at', 'last_job_id', 'created_at', 'links'],
        'properties': {
            'id': _str(format='uuid'), 'name': _str(),
            'cron': _str(description='Five-field cron expression, UTC.'),
            'enabled': {'type': 'boolean'}, 'job': _ref('ScheduleJob'),
            'next_run_at': _nullable(_TIME),
            'last_run_at': _nullable(_TIME),
            'last_job_id': _nullable(_str(format='uuid')),
            'created_by': _nullable(_str()),
            'project_id': _nullable(_str()),
            'created_at': _TIME, 'updated_at': _nullable(_TIME),
            'links': _LINKS}},
    'ScheduleCreate': {
        'type': 'object', 'required': ['name', 'cron', 'job'],
        'additionalProperties': False,
        'properties': {
            'name': _str(maxLength=255, description='Unique; not a UUID.'),
            'cron': _str(maxLength=255,
                         description='Five fields (minute hour day-of-'
                                     'month month day-of-week) or an '
                                     '@alias such as @daily; UTC.'),
            'enabled': {'type': 'boolean', 'default': True},
            'job': _ref('ScheduleJob')}},
    'ScheduleUpdate': {
        'type': 'object', 'additionalProperties': False,
        'description': 'A JSON merge patch (RFC 7396): the fields to '
                       'change; null removes a job parameter.',
        'properties': {
            'name': _str(maxLength=255), 'cron': _str(maxLength=255),
            'enabled': {'type': 'boolean'},
            'job': {'type': 'object', 'additionalProperties': False,
                    'properties': {'type': _str(), 'target': _str(),
                                   'params': _OBJECT}}}},
    'ScheduleCollection': _collection('schedules', 'Schedule'),
}


def _query(name, schema, description):
    return {'name': name, 'in': 'query', 'required': False,
            'schema': schema, 'description': description}


def _path(name, schema, description):
    return {'name': name, 'in': 'path', 'required': True,
            'schema': schema, 'description': description}


def _paging(sort_keys, default_sort, marker_schema):
    return [
        _query('limit', {'type': 'integer', 'minimum': 1,
                         'maximum': CONF.api.max_limit},
               'Page size (default [api] default_limit).'),
        _query('marker', marker_schema, 'Last item of the previous page.'),
        _query('sort_key', _str(enum=list(sort_keys),
                                default=default_sort), 'Sort key.'),
        _query('sort_dir', _str(enum=['asc', 'desc'], default='asc'),
               'Sort direction.'),
    ]


def _filter(name, description, **schema):
    return _query(name, _str(**schema) if schema else _str(maxLength=255),
                  description)


_JOB_ID = _path('job_id', _str(format='uuid'), 'UUID of the job.')
_TARGET = _path('name', _str(maxLength=255), 'Name of the target.')
_AUDIT_ID = {'type': 'integer', 'minimum': 1, 'maximum': 2 ** 63 - 1}
_RECORD = _path('record_id', _AUDIT_ID, 'Id of the audit record.')
_SCHEDULE_ID = _path('schedule_id', _str(format='uuid'),
                     'UUID of the schedule.')


# Agents and console logs (issue 5).

_BYTES = {'type': 'integer', 'minimum': 0}
_SIZE = {'type': 'integer', 'minimum': 1, 'maximum': 2 ** 50}
_SCOPE = {
    'type': 'object', 'required': ['kind'], 'additionalProperties': False,
    'properties': {
        'kind': _str(enum=['global', 'project', 'host', 'instance']),
        'value': _nullable(_str(maxLength=255, description=(
            'Project id, host name or instance uuid; absent or null for '
            'global.')))}}
_POLICY_FIELDS = {
    'name': _str(maxLength=255, description='Unique; not a UUID, not '
                 '"effective".'),
    'scope': _SCOPE,
    'max_bytes': dict(_SIZE, description='Trigger: allocated bytes above '
                      'which the log is cut.'),
    'keep_bytes': dict(_SIZE, description='Tail kept, at a line '
                       'boundary; at most max_bytes.'),
    'backups': {'type': 'integer', 'minimum': 0, 'maximum': 32,
                'default': 0},
    'max_age_days': _nullable({'type': 'integer', 'minimum': 1,
                               'maximum': 36500}),
    'mode': _str(enum=['report', 'enforce'], default='report'),
    'enabled': {'type': 'boolean', 'default': True},
}
_ACTION_KINDS = ['cut', 'planned', 'refused', 'skipped', 'error']

SCHEMAS.update({
    'ConsolePolicy': {
        'type': 'object',
        'required': ['id', 'name', 'scope', 'max_bytes', 'keep_bytes',
                     'backups', 'max_age_days', 'mode', 'enabled',
                     'created_at', 'links'],
        'properties': dict(
            _POLICY_FIELDS, id=_str(format='uuid'),
            created_by=_nullable(_str()), project_id=_nullable(_str()),
            created_at=_TIME, updated_at=_nullable(_TIME), links=_LINKS)},
    'ConsolePolicyCreate': {
        'type': 'object', 'additionalProperties': False,
        'required': ['name', 'max_bytes', 'keep_bytes'],
        'properties': _POLICY_FIELDS},
    'ConsolePolicyUpdate': {
        'type': 'object', 'additionalProperties': False,
        'description': 'A JSON merge patch of the fields; scope is '
                       'replaced whole, null resets a field to its '
                       'default.',
        'properties': {k: _nullable(v) for k, v in _POLICY_FIELDS.items()}},
    'ConsolePolicyCollection': _collection('console_policies',
                                           'ConsolePolicy'),
    'EffectiveConsolePolicy': {
        'type': 'object',
        'required': ['instance', 'project', 'host', 'policy', 'why'],
        'properties': {
            'instance': _str(format='uuid'), 'project': _nullable(_str()),
            'host': _nullable(_str()),
            'policy': _nullable(_ref('ConsolePolicy')), 'why': _str(),
            'sources': {'type': 'object',
                        'additionalProperties': _str()}}},
    'ConsoleLog': {
        'type': 'object',
        'required': ['instance', 'host', 'project', 'apparent_bytes',
                     'allocated_bytes', 'growth_bytes_per_hour', 'runaway',
                     'policy', 'last_action', 'measured_at', 'links'],
        'properties': {
            'instance': _str(format='uuid'), 'host': _nullable(_str()),
            'project': _nullable(_str()), 'reported_by': _str(),
            'path': _nullable(_str()), 'present': {'type': 'boolean'},
            'apparent_bytes': _BYTES, 'allocated_bytes': _BYTES,
            'rotated_bytes': _BYTES,
            'growth_bytes_per_hour': _nullable(_BYTES),
            'runaway': {'type': 'boolean'},
            'runaway_since': _nullable(_TIME), 'holders': _OBJECT,
            'problems': {'type': 'array', 'items': _str()},
            'measured_at': _TIME,
            'last_action': _nullable(dict(_OBJECT, properties={
                'action': _str(enum=_ACTION_KINDS),
                'method': _nullable(_str(enum=[
                    'collapse_range', 'punch_hole', 'copy_truncate']))})),
            'last_action_at': _nullable(_TIME),
            'policy': _nullable(_str()), 'policy_why': _str(),
            'links': _LINKS}},
    'ConsoleLogCollection': _collection('console_logs', 'ConsoleLog'),
    'Agent': {
        'type': 'object',
        'required': ['host', 'version', 'tasks', 'info', 'up',
                     'first_seen_at', 'last_seen_at', 'links'],
        'properties': {
            'host': _str(), 'version': _nullable(_str()),
            'tasks': {'type': 'array', 'items': _str()}, 'info': _OBJECT,
            'up': {'type': 'boolean'}, 'first_seen_at': _TIME,
            'last_seen_at': _TIME, 'last_sweep': _nullable(_OBJECT),
            'last_sweep_at': _nullable(_TIME), 'links': _LINKS}},
    'AgentCollection': _collection('agents', 'Agent'),
    'AgentHeartbeat': {
        'type': 'object', 'additionalProperties': False,
        'properties': {
            'version': _str(maxLength=64),
            'tasks': {'type': 'array', 'items': _str(maxLength=64)},
            'info': _OBJECT,
            'sweep': _nullable(dict(_OBJECT, description=(
                'Summary of a finished sweep. With "console_logs_complete": '
                'true and '
                '"started_at", console logs this agent reported before '
                'started_at are forgotten (their directory is gone).')))}},
    'ConsoleLogReport': {
        'type': 'object', 'required': ['console_logs'],
        'additionalProperties': False,
        'properties': {
            'runaway_bytes_per_hour': _nullable(_BYTES),
            'console_logs': {'type': 'array', 'maxItems': 5000, 'items': {
                'type': 'object', 'required': ['instance', 'measured_at'],
                'additionalProperties': False,
                'properties': {
                    'instance': _str(format='uuid'),
                    'path': _nullable(_str(maxLength=1024)),
                    'present': {'type': 'boolean'},
                    'host': _nullable(_str(maxLength=255)),
                    'project': _nullable(_str(maxLength=255)),
                    'apparent_bytes': _BYTES, 'allocated_bytes': _BYTES,
                    'rotated_bytes': _BYTES,
                    'growth_bytes_per_hour': _nullable(_BYTES),
                    'runaway': {'type': 'boolean'},
                    'holders': _nullable(_OBJECT),
                    'problems': {'type': 'array', 'items': _str()},
                    'measured_at': _TIME,
                    'action': _nullable(dict(_OBJECT, properties={
                        'action': _str(enum=_ACTION_KINDS)}))}}}}},
    'ConsoleLogReportResult': {
        'type': 'object', 'required': ['accepted', 'audited'],
        'properties': {'accepted': _BYTES, 'audited': _BYTES}},
})

_POLICY_ID = _path('policy', _str(maxLength=255),
                   'UUID or name of the console-log policy.')
_INSTANCE = _path('instance', _str(format='uuid'), 'UUID of the instance.')
_HOST = _path('host', _str(maxLength=255), 'Host name of the agent.')


def _agent_console_routes():
    """The routes of /v1/console-policies, /v1/console-logs, /v1/agents."""
    log_paging = [
        _query('limit', {'type': 'integer', 'minimum': 1,
                         'maximum': CONF.api.max_limit},
               'Page size (default [api] default_limit).'),
        _query('marker', _str(format='uuid'),
               'Instance of the last console log of the previous page.'),
        _query('sort_key', _str(enum=list(db_api.CONSOLE_LOG_SORT_KEYS),
                                default='allocated_bytes'),
               'Sort key; an unknown growth sorts lowest.'),
        _query('sort_dir', _str(enum=['asc', 'desc'], default='desc'),
               'Sort direction (default: biggest first).'),
    ]
    return {
        ('/v1/console-policies', 'get'): (
            'List console-log policies.',
            [_filter('scope_kind', 'Only policies of this scope kind.',
                     enum=['global', 'project', 'host', 'instance']),
             _filter('scope_value', 'Only policies of this scope value.'),
             _filter('mode', 'Only policies in this mode.',
                     enum=['report', 'enforce']),
             _query('enabled', {'type': 'boolean'},
                    'Only enabled (true) or disabled (false) policies.')]
            + _paging(db_api.CONSOLE_POLICY_SORT_KEYS, 'name',
                      _str(format='uuid')),
            None, 200, 'ConsolePolicyCollection'),
        ('/v1/console-policies', 'post'): (
            'Create a console-log policy.', [], 'ConsolePolicyCreate', 201,
            'ConsolePolicy'),
        ('/v1/console-policies/effective', 'get'): (
            'Which policy applies to an instance, and why. Project and '
            'host default to those of its reported console log.',
            [dict(_query('instance', _str(format='uuid'),
                         'The instance.'), required=True),
             _filter('project', 'Project of the instance.'),
             _filter('host', 'Host of the instance.')],
            None, 200, 'EffectiveConsolePolicy'),
        ('/v1/console-policies/{policy}', 'get'): (
            'Show a console-log policy.', [_POLICY_ID], None, 200,
            'ConsolePolicy'),
        ('/v1/console-policies/{policy}', 'patch'): (
            'Change a console-log policy (merge patch; scope replaced '
            'whole).', [_POLICY_ID], 'ConsolePolicyUpdate', 200,
            'ConsolePolicy'),
        ('/v1/console-policies/{policy}', 'delete'): (
            'Delete a console-log policy.', [_POLICY_ID], None, 204, None),
        ('/v1/console-logs', 'get'): (
            'List console logs as the agents last measured them.',
            [_filter('host', 'Only logs of instances on this host.'),
             _filter('project', 'Only logs of this project.'),
             _filter('reported_by', 'Only logs this agent measured.'),
             _query('runaway', {'type': 'boolean'},
                    'Only runaway (true) or other (false) logs.')]
            + log_paging,
            None, 200, 'ConsoleLogCollection'),
        ('/v1/console-logs/{instance}', 'get'): (
            'Show the console log of an instance.', [_INSTANCE], None, 200,
            'ConsoleLog'),
        ('/v1/agents', 'get'): (
            'List compute-host agents.',
            _paging(db_api.AGENT_SORT_KEYS, 'host', _str(maxLength=255)),
            None, 200, 'AgentCollection'),
        ('/v1/agents/{host}', 'get'): (
            'Show a compute-host agent.', [_HOST], None, 200, 'Agent'),
        ('/v1/agents/{host}/heartbeat', 'post'): (
            'Agent only: report that it is alive, or that a sweep '
            'finished.', [_HOST], 'AgentHeartbeat', 200, 'Agent'),
        ('/v1/agents/{host}/console-policies', 'get'): (
            'Agent only: every console-log policy, to choose from.',
            [_HOST], None, 200, 'ConsolePolicyCollection'),
        ('/v1/agents/{host}/console-logs', 'post'): (
            'Agent only: report console-log measurements and actions.',
            [_HOST], 'ConsoleLogReport', 200, 'ConsoleLogReportResult'),
    }


def routes():
    """Return every route of the API with what the document says of it.

    (path, method) -> (summary, parameters, request body schema, status,
    response schema). Built on each call: limits come from the config.
    """
    return {
        ('/', 'get'): ('List API versions.', [], None, 200, 'Versions'),
        ('/v1', 'get'): ('Show the v1 root and its resources.', [], None, 200,
                         'V1'),
        ('/v1/openapi.json', 'get'): ('This document.', [], None, 200, None),
        ('/v1/jobs', 'get'): (
            'List jobs.',
            [_filter('state', 'Only jobs in this state.',
                     enum=list(db_api.JOB_STATES)),
             _filter('type', 'Only jobs of this type.',
                     enum=list(db_api.JOB_TYPES)),
             _filter('target', 'Only jobs on this target.')]
            + _paging(db_api.JOB_SORT_KEYS, 'created_at',
                      _str(format='uuid')),
            None, 200, 'JobCollection'),
        ('/v1/jobs', 'post'): ('Create a job.', [], 'JobCreate', 202, 'Job'),
        ('/v1/jobs/{job_id}', 'get'): ('Show a job.', [_JOB_ID], None, 200,
                                       'Job'),
        ('/v1/jobs/{job_id}/cancel', 'post'): (
            'Cancel a job: at once if pending, at its next heartbeat if '
            'running.', [_JOB_ID], None, 202, 'Job'),
        ('/v1/audit', 'get'): (
            'List audit records in chain order.',
            [_filter(k, 'Only records with this %s.' % k) for k in (
                'action', 'resource_type', 'resource_id', 'user_id',
                'request_id')]
            + [_filter('outcome', 'Only records with this outcome.',
                       enum=list(records.OUTCOMES)),
               _filter('since', 'Records written at or after (ISO 8601).',
                       format='date-time'),
               _filter('until', 'Records written before (ISO 8601).',
                       format='date-time')]
            + _paging(db_api.AUDIT_SORT_KEYS, 'id', _AUDIT_ID),
            None, 200, 'AuditCollection'),
        ('/v1/audit/{record_id}', 'get'): ('Show an audit record.', [_RECORD],
                                           None, 200, 'AuditRecord'),
        ('/v1/audit/verify', 'get'): ('Verify the audit hash chain.', [], None,
                                      200, 'Verification'),
        ('/v1/targets', 'get'): (
            'List the configured targets.',
            _paging(('name', 'profile'), 'name', _str(maxLength=255)),
            None, 200, 'TargetCollection'),
        ('/v1/targets/{name}', 'get'): ('Show a target.', [_TARGET], None, 200,
                                        'Target'),
        ('/v1/targets/{name}/census', 'get'): (
            'Show the latest succeeded census of a target.', [_TARGET], None,
            200, 'Census'),
        ('/v1/schedules', 'get'): (
            'List schedules.',
            [_filter('name', 'Only the schedule of this name.'),
             _filter('target', 'Only schedules of jobs on this target.'),
             _query('enabled', {'type': 'boolean'},
                    'Only enabled (true) or disabled (false) schedules.')]
            + _paging(db_api.SCHEDULE_SORT_KEYS, 'created_at',
                      _str(format='uuid')),
            None, 200, 'ScheduleCollection'),
        ('/v1/schedules', 'post'): ('Create a schedule.', [],
                                    'ScheduleCreate', 201, 'Schedule'),
        ('/v1/schedules/{schedule_id}', 'get'): (
            'Show a schedule.', [_SCHEDULE_ID], None, 200, 'Schedule'),
        ('/v1/schedules/{schedule_id}', 'patch'): (
            'Change a schedule (JSON merge patch).', [_SCHEDULE_ID],
            'ScheduleUpdate', 200, 'Schedule'),
        ('/v1/schedules/{schedule_id}', 'delete'): (
            'Delete a schedule; the jobs it created stay.', [_SCHEDULE_ID],
            None, 204, None),
        **_agent_console_routes(),
    }


_PUBLIC = {'/', '/v1', '/v1/openapi.json'}
_ERRORS = {'400': 'Bad input.', '401': 'Not authenticated.',
           '403': 'Refused by policy.', '404': 'Not found.',
           '405': 'Method not allowed.', '409': 'Conflict.',
           '413': 'Request body too large.', '415': 'Not JSON.',
           '500': 'Internal error.', '503': 'Unavailable.'}


def _operation(path, method, route):
    summary, params, request, status, schema = route
    content = {'application/json': {'schema': _ref(schema) if schema
                                    else _OBJECT}}
    op = {'summary': summary,
          'operationId': '%s %s' % (method, path),
          'parameters': copy.deepcopy(params),
          'responses': {str(status): {'description': 'OK',
                                      'content': content}}}
    if status == 204:
        # No Content has no body to describe.
        op['responses']['204'] = {'description': 'No content.'}
    for code, text in _ERRORS.items():
        op['responses'][code] = {'description': text, 'content': {
            'application/json': {'schema': _ref('Error')}}}
    if request:
        op['requestBody'] = {'required': True, 'content': {
            'application/json': {'schema': _ref(request)}}}
    if path in _PUBLIC:
        op['security'] = []
    return op


def _pattern(template):
    return re.compile('^%s/?$' % re.sub(r'\\\{[^}]+\\\}', '[^/]+',
                                        re.escape(template)))


def allowed_methods(path):
    """The methods of the route ``path`` matches, for an Allow header.

    A literal segment beats a parameter, as in routing: the methods of
    ``/console-policies/effective`` are not those of ``/{policy}``.
    """
    by_template = {}
    for template, method in routes():
        if _pattern(template).match(path or '/'):
            by_template.setdefault(template, set()).add(method.upper())
    if not by_template:
        return []

    def literal_segments(template):
        return sum(1 for part in template.split('/')
                   if part and not part.startswith('{'))

    best = max(literal_segments(t) for t in by_template)
    return sorted(set().union(*(m for t, m in by_template.items()
                                if literal_segments(t) == best)))


def document(server_url, keystone=True):
    """Return the OpenAPI document with links to ``server_url``.

    :param keystone: whether requests need a token; without one (noauth)
        the document declares no security scheme.
    """
    paths = {}
    schemas = copy.deepcopy(SCHEMAS)
    if CONF.targets:
        # The document is built per request, so it can name the targets
        # this server has.
        schemas['JobCreate']['properties']['target']['enum'] = list(
            CONF.targets)
    for (path, method), route in routes().items():
        paths.setdefault(path, {})[method] = _operation(path, method, route)
    doc = {
        'openapi': '3.0.3',
        'info': {'title': 'cryptkeeper', 'version':
                 version.version_string(),
                 'description': 'Audited, fail-closed cleanup of '
                                'OpenStack clouds.'},
        'servers': [{'url': server_url}],
        'paths': paths,
        'components': {'schemas': schemas},
    }
    if keystone:
        doc['components']['securitySchemes'] = {'keystone': {
            'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token'}}
        doc['security'] = [{'keystone': []}]
    else:
        for ops in paths.values():
            for op in ops.values():
                op.pop('security', None)
    return doc
