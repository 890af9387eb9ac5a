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
            'params': {'type': 'object', 'maxProperties': 0,
                       'nullable': True,
                       'description': 'Census takes no parameters.'}}},
    'JobCollection': {
        'type': 'object', 'required': ['jobs'],
        'properties': {'jobs': {'type': 'array', 'items': _ref('Job')},
                       'next': _str(format='uri')}},
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
    'AuditCollection': {
        'type': 'object', 'required': ['audit'],
        'properties': {'audit': {'type': 'array',
                                 'items': _ref('AuditRecord')},
                       'next': _str(format='uri')}},
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
    'TargetCollection': {
        'type': 'object', 'required': ['targets'],
        'properties': {'targets': {'type': 'array',
                                   'items': _ref('Target')},
                       'next': _str(format='uri')}},
    'Census': {
        'type': 'object', 'additionalProperties': True,
        'required': ['job_id', 'target', 'finished_at'],
        'properties': {'job_id': _str(format='uuid'), 'target': _str(),
                       'finished_at': _nullable(_TIME),
                       'tables': {'type': 'array', 'items': _OBJECT}}},
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
    """The methods of the route ``path`` matches, for an Allow header."""
    methods = set()
    for template, method in routes():
        if _pattern(template).match(path or '/'):
            methods.add(method.upper())
    return sorted(methods)


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
