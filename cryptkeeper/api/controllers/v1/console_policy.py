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

"""Console-log policies: size limits per scope, enforced by the agents."""

import datetime

from oslo_utils import uuidutils
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
from cryptkeeper.consolelog import policy as cl_policy
from cryptkeeper.db import api as db_api

# What a body may set; the rest of a policy is the service's to keep.
EDITABLE = ('name', 'scope', 'max_bytes', 'keep_bytes', 'backups',
            'max_age_days', 'mode', 'enabled')
READ_ONLY = ('id', 'created_by', 'project_id', 'created_at', 'updated_at',
             'links')
# The route of the "which policy applies" question; no policy may be
# named so, or GET /v1/console-policies/<name> could not reach it.
EFFECTIVE = 'effective'


class Scope(wtypes.Base):
    """Where a policy applies."""

    kind = wtypes.text
    """global, project, host or instance."""

    value = wtypes.text
    """The project id, host name or instance uuid; null for global."""


class ConsolePolicy(base.APIBase):
    """A console-log policy."""

    _fields = ('name', 'max_bytes', 'keep_bytes', 'backups',
               'max_age_days', 'mode', 'created_by', 'project_id')

    id = wtypes.text
    """UUID of the policy."""

    name = wtypes.text
    """Unique name of the policy."""

    scope = Scope
    """Where it applies; the most specific enabled policy wins:
    instance > host > project > global."""

    max_bytes = int
    """Trigger: a log allocating more than this many bytes is cut."""

    keep_bytes = int
    """The tail kept when cutting, at a line boundary; <= max_bytes."""

    backups = int
    """Compressed copies of removed heads kept beside the log (0-32)."""

    max_age_days = int
    """Backups older than this are removed; null keeps them by count."""

    mode = wtypes.text
    """report (decide and record, touch nothing) or enforce."""

    enabled = bool
    """A disabled policy is skipped when choosing the applicable one."""

    created_by = wtypes.text
    """User id of who created the policy."""

    project_id = wtypes.text
    """Project of who created the policy."""

    created_at = datetime.datetime
    """When the policy was created (UTC)."""

    updated_at = datetime.datetime
    """When the policy last changed (UTC)."""

    links = [link.Link]
    """Links to the policy."""

    @classmethod
    def convert(cls, row):
        return cls.from_row(
            row, id=row.uuid, enabled=bool(row.enabled),
            scope=Scope(kind=row.scope_kind,
                        value=row.scope_value or None),
            created_at=types.utc(row.created_at),
            updated_at=types.utc(row.updated_at),
            links=[link.Link.make('self', 'v1', 'console-policies',
                                  row.uuid)])


class ConsolePolicyCollection(collection.Collection):
    """A page of console-log policies."""

    _items = 'console_policies'

    console_policies = [ConsolePolicy]
    """The policies of this page."""


class Effective(wtypes.Base):
    """Which policy applies to an instance, and why."""

    instance = wtypes.text
    """The instance asked about."""

    project = wtypes.text
    """The project used for the choice; null if unknown."""

    host = wtypes.text
    """The host used for the choice; null if unknown."""

    policy = ConsolePolicy
    """The applicable policy; null when none applies."""

    why = wtypes.text
    """Why this policy (or none) applies."""

    sources = {wtypes.text: wtypes.text}
    """Where project and host came from: the request, or the console
    log the agents reported."""


def to_library(row):
    """The consolelog library's Policy for a database row."""
    return cl_policy.Policy(
        name=row.name, max_bytes=row.max_bytes, keep_bytes=row.keep_bytes,
        scope_kind=row.scope_kind, scope_value=row.scope_value or None,
        backups=row.backups, max_age_days=row.max_age_days, mode=row.mode,
        enabled=bool(row.enabled))


def document(row):
    """The editable part of a policy, as a body would give it."""
    return to_library(row).to_dict()


def validate(doc):
    """Validate a whole policy document; return its column values."""
    read_only = sorted(set(doc) & set(READ_ONLY))
    if read_only:
        raise utils.invalid('%s cannot be set; the service keeps it.'
                            % ', '.join(read_only))
    try:
        pol = cl_policy.Policy.from_dict(doc)
    except cl_policy.PolicyError as exc:
        raise utils.invalid('%s.' % exc) from None
    if uuidutils.is_uuid_like(pol.name) or pol.name == EFFECTIVE:
        # Policies are looked up by id or name; a name that reads as an
        # id, or as the "effective" route, would make that ambiguous.
        raise utils.invalid('name %r is reserved: it must not look like a '
                            'UUID nor be "%s".' % (pol.name, EFFECTIVE))
    return {'name': pol.name, 'scope_kind': pol.scope_kind,
            'scope_value': pol.scope_value or '',
            'max_bytes': pol.max_bytes, 'keep_bytes': pol.keep_bytes,
            'backups': pol.backups, 'max_age_days': pol.max_age_days,
            'mode': pol.mode, 'enabled': pol.enabled}


def merge(doc, patch):
    """Apply a PATCH body to a policy document.

    A JSON merge patch (RFC 7396) of the top-level fields, except that
    ``scope`` is replaced whole: merging {"kind": "global"} into a host
    scope would keep the host's value and make no sense.
    """
    result = dict(doc)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _ident(ident):
    utils.validate_string('policy', ident)
    if not ident:
        raise utils.invalid('a policy id or name is required.')
    return ident


def selector(rows):
    """A select() over ``rows`` that converts them once, for many calls."""
    by_name = {r.name: r for r in rows}
    policies = [to_library(r) for r in rows]

    def choose(instance, project=None, host=None):
        chosen = cl_policy.select(policies, instance, project_id=project,
                                  host=host)
        row = by_name.get(chosen.policy.name) if chosen.policy else None
        return row, chosen.why
    return choose


def select(rows, instance, project=None, host=None):
    """Choose the applicable policy among database rows.

    Returns (row or None, why), using the library's precedence so the API
    explains exactly what the agents do.
    """
    return selector(rows)(instance, project=project, host=host)


class ConsolePoliciesController(base.ResourceController):
    """/v1/console-policies"""

    _custom_actions = {EFFECTIVE: ['GET']}

    @wsme_pecan.wsexpose(ConsolePolicyCollection, wtypes.text, wtypes.text,
                         wtypes.text, wtypes.text, int, wtypes.text,
                         wtypes.text, wtypes.text)
    def get_all(self, scope_kind=None, scope_value=None, mode=None,
                enabled=None, limit=None, marker=None, sort_key='name',
                sort_dir='asc'):
        policy.enforce(pecan.request.context,
                       'cryptkeeper:console_policy:get_all')
        filters = {
            'scope_kind': utils.validate_choice('scope_kind', scope_kind,
                                                cl_policy.SCOPE_KINDS),
            'scope_value': utils.validate_string('scope_value',
                                                 scope_value),
            'mode': utils.validate_choice('mode', mode, cl_policy.MODES),
            'enabled': utils.parse_bool('enabled', enabled),
        }
        limit, rows = collection.fetch(
            pecan.request.dbapi.list_console_policies, limit, marker,
            sort_key, sort_dir, db_api.CONSOLE_POLICY_SORT_KEYS,
            exception.ConsolePolicyNotFound, 'a console-log policy',
            filters=filters)
        items = [ConsolePolicy.convert(r) for r in rows]
        return ConsolePolicyCollection.page(items, limit, 'console-policies',
                                            lambda p: p.id)

    @wsme_pecan.wsexpose(ConsolePolicy, wtypes.text)
    def get_one(self, ident):
        policy.enforce(pecan.request.context,
                       'cryptkeeper:console_policy:get', resource_id=ident)
        return ConsolePolicy.convert(
            pecan.request.dbapi.get_console_policy(_ident(ident)))

    @wsme_pecan.wsexpose(Effective, wtypes.text, wtypes.text, wtypes.text)
    def effective(self, instance=None, project=None, host=None):
        """Which policy applies to an instance, and why.

        Project and host not given are taken from the console log the
        agents last reported for the instance, when there is one.
        """
        policy.enforce(pecan.request.context,
                       'cryptkeeper:console_policy:get',
                       resource_id=instance)
        if instance is None:
            raise utils.invalid('instance is required.')
        utils.validate_uuid('instance', instance)
        utils.validate_string('project', project)
        utils.validate_string('host', host)
        dbapi = pecan.request.dbapi
        sources = {}
        if project is not None:
            sources['project'] = 'request'
        if host is not None:
            sources['host'] = 'request'
        if project is None or host is None:
            try:
                log = dbapi.get_console_log(instance)
            except exception.ConsoleLogNotFound:
                log = None
            if log is not None and project is None and log.project:
                project, sources['project'] = log.project, 'console log'
            if log is not None and host is None and log.host:
                host, sources['host'] = log.host, 'console log'
        row, why = select(dbapi.list_console_policies(), instance,
                          project=project, host=host)
        return Effective(
            instance=instance, project=project, host=host,
            policy=ConsolePolicy.convert(row) if row is not None else None,
            why=why, sources=sources)

    @wsme_pecan.wsexpose(ConsolePolicy, body=types.jsondict,
                         status_code=201)
    def post(self, body):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:console_policy:create')
        doc = utils.json_object(body)
        values = validate(doc)
        values.update(created_by=ctx.user_id, project_id=ctx.project_id)
        details = document(_Row(values))
        row = pecan.request.dbapi.create_console_policy(
            values, records.entry(ctx, 'console_policy.create',
                                  details=details))
        result = ConsolePolicy.convert(row)
        pecan.response.location = link.build_url('v1', 'console-policies',
                                                 result.id)
        return result

    @wsme_pecan.wsexpose(ConsolePolicy, wtypes.text, body=types.jsondict)
    def patch(self, ident, body):
        """Change a policy: a merge patch of its fields; scope replaced."""
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:console_policy:update',
                       resource_id=ident)
        patch = utils.json_object(body)
        dbapi = pecan.request.dbapi
        row = dbapi.get_console_policy(_ident(ident))
        values = validate(merge(document(row), patch))
        changes = utils.changes(row, values)
        if not changes:
            return ConsolePolicy.convert(row)
        row = dbapi.update_console_policy(
            row.uuid, {k: values[k] for k in changes},
            records.entry(ctx, 'console_policy.update',
                          details={'name': row.name, 'changes': changes}))
        return ConsolePolicy.convert(row)

    @wsme_pecan.wsexpose(None, wtypes.text, status_code=204)
    def delete(self, ident):
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:console_policy:delete',
                       resource_id=ident)
        dbapi = pecan.request.dbapi
        row = dbapi.get_console_policy(_ident(ident))
        # The record keeps what was deleted: the row itself is gone.
        dbapi.delete_console_policy(
            row.uuid, records.entry(ctx, 'console_policy.delete',
                                    details={'policy': document(row)}))


class _Row:
    """Column values dressed as a row, for document()."""

    def __init__(self, values):
        self.__dict__.update(values)
