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

"""Compute-host agents: heartbeats, and what they fetch and report.

The agents hold no database credentials; everything they learn and
everything they did goes through these routes, guarded by the
``cryptkeeper:agent:*`` rules (the service role, or admin).
"""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import console_policy
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.audit import records
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper.db import api as db_api

# An agent counts as up while its last heartbeat is younger than this
# many of its own intervals (plus a minute of slack for a slow sweep).
DOWN_AFTER_INTERVALS = 2
DEFAULT_INTERVAL = 600
MAX_REPORT_ENTRIES = 5000
MAX_PATH = 1024
# What an agent's action may say; anything else in a report is refused.
ACTIONS = ('cut', 'planned', 'refused', 'skipped', 'error')
ACTION_FIELDS = frozenset((
    'instance', 'path', 'policy', 'mode', 'action', 'method', 'reason',
    'error', 'apparent_before', 'allocated_before', 'apparent_after',
    'allocated_after', 'content_start', 'cut_offset', 'freed_offset',
    'line_boundary', 'bytes_removed', 'backup', 'backup_bytes',
    'bytes_at_risk', 'bytes_read', 'bytes_written', 'holders',
    'holders_complete', 'notes', 'pruned_backups', 'at'))
# How each decision appears in the audit log.
_AUDIT = {'cut': ('console_log.cut', 'success'),
          'planned': ('console_log.plan', 'success'),
          'refused': ('console_log.cut', 'refused'),
          'skipped': ('console_log.cut', 'refused'),
          'error': ('console_log.cut', 'failure')}
# Decisions compared to tell a repeat from a change (a repeat is not
# audited again; a cut always is).
_SAME = ('action', 'policy', 'mode', 'method', 'reason', 'error')
_ACTION_KEY = '_action'
ENTRY_FIELDS = frozenset((
    'instance', 'path', 'present', 'host', 'project', 'apparent_bytes',
    'allocated_bytes', 'rotated_bytes', 'growth_bytes_per_hour', 'runaway',
    'holders', 'problems', 'measured_at', 'action'))


class Agent(base.APIBase):
    """A compute-host agent, as its heartbeats describe it."""

    _fields = ('host', 'version')

    host = wtypes.text
    """The compute host the agent runs on."""

    version = wtypes.text
    """cryptkeeper version of the agent."""

    tasks = [wtypes.text]
    """The periodic tasks it runs: consolelog."""

    info = types.jsondict
    """What it says of itself: instances_path, interval, shared_storage."""

    up = bool
    """Whether it heartbeated within two of its intervals."""

    first_seen_at = datetime.datetime
    """Its first heartbeat (UTC)."""

    last_seen_at = datetime.datetime
    """Its last heartbeat (UTC)."""

    last_sweep = types.jsondict
    """Summary of its last finished sweep: counts per task, problems."""

    last_sweep_at = datetime.datetime
    """When its last sweep finished (UTC)."""

    links = [link.Link]
    """Links to the agent."""

    @classmethod
    def convert(cls, row, now=None):
        now = now or timeutils.utcnow()
        info = row.info or {}
        interval = info.get('interval')
        if not isinstance(interval, int) or isinstance(interval, bool):
            interval = DEFAULT_INTERVAL
        limit = datetime.timedelta(
            seconds=DOWN_AFTER_INTERVALS * interval + 60)
        return cls.from_row(
            row, tasks=row.tasks or [], info=info,
            up=now - row.last_seen_at <= limit,
            first_seen_at=types.utc(row.first_seen_at),
            last_seen_at=types.utc(row.last_seen_at),
            last_sweep=row.last_sweep or None,
            last_sweep_at=types.utc(row.last_sweep_at),
            links=[link.Link.make('self', 'v1', 'agents', row.host)])


class AgentCollection(collection.Collection):
    """A page of agents."""

    _items = 'agents'

    agents = [Agent]
    """The agents of this page."""


class ReportResult(wtypes.Base):
    """What the API made of a console-log report."""

    accepted = int
    """Console logs stored."""

    audited = int
    """Audit records appended: actions and runaway changes."""


def _host(host):
    if not host or not host.strip() or host != host.strip():
        raise utils.invalid('host must be a non-empty name.')
    return utils.validate_string('host', host)


def _int(where, name, value, nullable=False):
    if value is None and nullable:
        return None
    if (not isinstance(value, int) or isinstance(value, bool)
            or not 0 <= value <= utils.MAX_ID):
        raise utils.invalid('%s: %s must be a non-negative integer.'
                            % (where, name))
    return value


def _text(where, name, value, nullable=True, maximum=utils.MAX_STRING):
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > maximum:
        raise utils.invalid('%s: %s must be a string of at most %d characters.'
                            % (where, name, maximum))
    return value


def _bool(where, name, value):
    if not isinstance(value, bool):
        raise utils.invalid('%s: %s must be true or false.' % (where, name))
    return value


def _time(where, name, value):
    if not isinstance(value, str):
        raise utils.invalid('%s: %s must be an ISO 8601 time.' % (where, name))
    return utils.parse_time('%s: %s' % (where, name), value)


def _action(where, action):
    if action is None:
        return None
    if not isinstance(action, dict):
        raise utils.invalid('%s: action must be an object or null.' % where)
    unknown = sorted(set(action) - ACTION_FIELDS)
    if unknown:
        raise utils.invalid('%s: action has no field %s.'
                            % (where, ', '.join(unknown)))
    if action.get('action') not in ACTIONS:
        raise utils.invalid('%s: action.action must be one of %s.'
                            % (where, ', '.join(ACTIONS)))
    for name in ('policy', 'mode', 'method', 'error'):
        _text(where, 'action.' + name, action.get(name))
    _text(where, 'action.reason', action.get('reason'), maximum=65536)
    return action


def validate_entry(reporter, entry, index):
    """Column values of one reported console log; 400 on bad input."""
    where = 'console_logs[%d]' % index
    if not isinstance(entry, dict):
        raise utils.invalid('%s must be an object.' % where)
    unknown = sorted(set(entry) - ENTRY_FIELDS)
    if unknown:
        raise utils.invalid('%s has no field %s.'
                            % (where, ', '.join(unknown)))
    instance = entry.get('instance')
    if not isinstance(instance, str) or not uuidutils.is_uuid_like(
            instance):
        raise utils.invalid('%s: instance must be a UUID.' % where)
    if 'measured_at' not in entry:
        raise utils.invalid('%s: measured_at is required.' % where)
    problems = entry.get('problems', [])
    if not isinstance(problems, list) or not all(
            isinstance(p, str) for p in problems):
        raise utils.invalid('%s: problems must be a list of strings.' % where)
    holders = entry.get('holders')
    if holders is not None and not isinstance(holders, dict):
        raise utils.invalid('%s: holders must be an object or null.' % where)
    values = {
        'instance': instance,
        'reported_by': reporter,
        'path': _text(where, 'path', entry.get('path'), maximum=MAX_PATH),
        'present': _bool(where, 'present', entry.get('present', False)),
        'apparent_bytes': _int(where, 'apparent_bytes',
                               entry.get('apparent_bytes', 0)),
        'allocated_bytes': _int(where, 'allocated_bytes',
                                entry.get('allocated_bytes', 0)),
        'rotated_bytes': _int(where, 'rotated_bytes',
                              entry.get('rotated_bytes', 0)),
        'growth_bytes_per_hour': _int(
            where, 'growth_bytes_per_hour',
            entry.get('growth_bytes_per_hour'), nullable=True),
        'runaway': _bool(where, 'runaway', entry.get('runaway', False)),
        'holders': holders,
        'problems': problems,
        'measured_at': _time(where, 'measured_at', entry['measured_at']),
    }
    # Unknown host or project (shared storage without a local writer, an
    # unreadable libvirt.xml) keeps what an earlier report said.
    for name in ('host', 'project'):
        value = _text(where, name, entry.get(name))
        if value:
            values[name] = value
    # Carried to the auditor with the values (one report may hold the
    # same log twice: a retried action and a newer measurement).
    values[_ACTION_KEY] = _action(where, entry.get('action'))
    return values


def _same(old, new):
    return bool(old) and all(old.get(k) == new.get(k) for k in _SAME)


class _Auditor:
    """Decides which records one reported console log is worth.

    Called by the database inside the transaction that stores the log, so
    the comparison with the stored state cannot race another report.
    """

    def __init__(self, ctx, reporter, threshold, now):
        self.ctx = ctx
        self.reporter = reporter
        self.threshold = threshold
        self.now = now

    def _entry(self, action, outcome, reason, values, details):
        host = values.get('host')
        project = values.get('project')
        base_details = {'reported_by': self.reporter, 'host': host,
                        'project': project, 'path': values.get('path')}
        base_details.update(details)
        return records.entry(
            self.ctx, action, outcome=outcome, reason=reason,
            details=base_details, resource_type='console_log',
            resource_id=values['instance'])

    def __call__(self, old, values):
        out = []
        if old is not None:
            values.setdefault('host', old.host)
            values.setdefault('project', old.project)
        action = values.pop(_ACTION_KEY, None)
        if action is not None:
            values['last_action'] = action
            values['last_action_at'] = self.now
            kind = action['action']
            previous = old.last_action if old is not None else None
            if kind == 'cut' or not _same(previous, action):
                name, outcome = _AUDIT[kind]
                details = {k: v for k, v in action.items()
                           if k not in ('instance', 'path', 'reason')}
                out.append(self._entry(name, outcome, action.get('reason'),
                                       values, details))
        was = bool(old is not None and old.runaway)
        growth = values.get('growth_bytes_per_hour')
        sizes = {'growth_bytes_per_hour': growth,
                 'runaway_bytes_per_hour': self.threshold,
                 'apparent_bytes': values['apparent_bytes'],
                 'allocated_bytes': values['allocated_bytes']}
        if values['runaway'] and not was:
            values['runaway_since'] = self.now
            reason = 'growing %s bytes/hour' % growth
            if self.threshold is not None:
                reason += ', above %d bytes/hour' % self.threshold
            out.append(self._entry('console_log.runaway', 'success', reason,
                                   values, sizes))
        elif was and not values['runaway']:
            values['runaway_since'] = None
            out.append(self._entry(
                'console_log.runaway_cleared', 'success',
                'growing %s bytes/hour' % growth, values, sizes))
        return out


def _heartbeat_values(body):
    where = 'heartbeat'
    unknown = sorted(set(body) - {'version', 'tasks', 'info', 'sweep'})
    if unknown:
        raise utils.invalid('%s has no field %s.'
                            % (where, ', '.join(unknown)))
    tasks = body.get('tasks', [])
    if not isinstance(tasks, list) or not all(
            isinstance(t, str) and len(t) <= 64 for t in tasks):
        raise utils.invalid('%s: tasks must be a list of task names.' % where)
    info = body.get('info', {})
    if not isinstance(info, dict):
        raise utils.invalid('%s: info must be an object.' % where)
    sweep = body.get('sweep')
    if sweep is not None and not isinstance(sweep, dict):
        raise utils.invalid('%s: sweep must be an object or null.' % where)
    # Leaving the version out is allowed; sending null is not a version.
    values = {'version': _text(where, 'version', body.get('version'),
                               nullable='version' not in body, maximum=64),
              'tasks': tasks, 'info': info}
    return values, sweep


class AgentsController(base.ResourceController):
    """/v1/agents"""

    _custom_actions = {'heartbeat': ['POST'],
                       'console-policies': ['GET'],
                       'console-logs': ['POST']}

    @wsme_pecan.wsexpose(AgentCollection, int, wtypes.text, wtypes.text,
                         wtypes.text)
    def get_all(self, limit=None, marker=None, sort_key='host',
                sort_dir='asc'):
        policy.enforce(pecan.request.context, 'cryptkeeper:agent:get_all')
        limit, rows = collection.fetch(
            pecan.request.dbapi.list_agents, limit, marker, sort_key,
            sort_dir, db_api.AGENT_SORT_KEYS, exception.AgentNotFound,
            'an agent', check_marker=utils.validate_string)
        now = timeutils.utcnow()
        items = [Agent.convert(r, now) for r in rows]
        return AgentCollection.page(items, limit, 'agents',
                                    lambda a: a.host)

    @wsme_pecan.wsexpose(Agent, wtypes.text)
    def get_one(self, host):
        policy.enforce(pecan.request.context, 'cryptkeeper:agent:get',
                       resource_id=host)
        return Agent.convert(pecan.request.dbapi.get_agent(_host(host)))

    @wsme_pecan.wsexpose(Agent, wtypes.text, body=types.jsondict)
    def heartbeat(self, host, body):
        """An agent is alive; with ``sweep``, it finished a sweep."""
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:agent:heartbeat', resource_id=host)
        host = _host(host)
        values, sweep = _heartbeat_values(utils.json_object(body))
        dbapi = pecan.request.dbapi
        row, _new = dbapi.agent_heartbeat(
            host, values, records.entry(ctx, 'agent.heartbeat'))
        if sweep is not None:
            started = None
            if (sweep.get('console_logs_complete') is True
                    and sweep.get('started_at')):
                started = _time('sweep', 'started_at', sweep['started_at'])
            row, gone = dbapi.finish_agent_sweep(
                host, sweep, started, records.entry(
                    ctx, 'console_log.forget',
                    reason='instance directories no longer on %s' % host))
            if gone:
                pecan.response.headers['X-Console-Logs-Forgotten'] = str(
                    len(gone))
        return Agent.convert(row)

    @wsme_pecan.wsexpose(console_policy.ConsolePolicyCollection, wtypes.text)
    def console_policies(self, host):
        """Every console-log policy; the agent chooses per instance."""
        policy.enforce(pecan.request.context,
                       'cryptkeeper:agent:console_policies',
                       resource_id=host)
        _host(host)
        rows = pecan.request.dbapi.list_console_policies()
        return console_policy.ConsolePolicyCollection(console_policies=[
            console_policy.ConsolePolicy.convert(r) for r in rows])

    @wsme_pecan.wsexpose(ReportResult, wtypes.text, body=types.jsondict)
    def console_logs(self, host, body):
        """Store measurements and actions; audit actions and runaways."""
        ctx = pecan.request.context
        policy.enforce(ctx, 'cryptkeeper:agent:report_console_logs',
                       resource_id=host)
        host = _host(host)
        body = utils.json_object(body)
        unknown = sorted(set(body) - {'console_logs',
                                      'runaway_bytes_per_hour'})
        if unknown:
            raise utils.invalid('the report has no field %s.'
                                % ', '.join(unknown))
        entries = body.get('console_logs')
        if not isinstance(entries, list):
            raise utils.invalid('console_logs must be a list.')
        if len(entries) > MAX_REPORT_ENTRIES:
            raise utils.invalid('a report holds at most %d console logs.'
                                % MAX_REPORT_ENTRIES)
        threshold = _int('report', 'runaway_bytes_per_hour',
                         body.get('runaway_bytes_per_hour'), nullable=True)
        rows = [validate_entry(host, entry, index)
                for index, entry in enumerate(entries)]
        auditor = _Auditor(ctx, host, threshold, timeutils.utcnow())
        audited = pecan.request.dbapi.save_console_logs(rows, auditor)
        return ReportResult(accepted=len(rows), audited=audited)


# Route names that are no Python identifiers; the custom actions above
# find them by these names.
setattr(AgentsController, 'console-policies',
        AgentsController.console_policies)
setattr(AgentsController, 'console-logs', AgentsController.console_logs)
