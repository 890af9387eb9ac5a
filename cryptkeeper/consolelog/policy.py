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

"""Console-log policies: validation and selection of the applicable one."""

import dataclasses

from oslo_utils import uuidutils

GLOBAL = 'global'
PROJECT = 'project'
HOST = 'host'
INSTANCE = 'instance'
# Most specific last: the index is the precedence.
SCOPE_KINDS = (GLOBAL, PROJECT, HOST, INSTANCE)
REPORT = 'report'
ENFORCE = 'enforce'
MODES = (REPORT, ENFORCE)
# virtlogd caps max_backups at 32; more copies beside a log is a disk leak,
# not history.
MAX_BACKUPS = 32
# Scope values are identifiers and host names; a bound keeps a bad request
# from becoming a huge stored string.
MAX_SCOPE_VALUE = 255
MAX_NAME = 255
# 1 PiB: above any disk, and exact in every JSON client (< 2**53).
MAX_BYTES = 2 ** 50
MAX_AGE_DAYS = 36500


class PolicyError(ValueError):
    """A console-log policy is not valid; the message says why."""


def _is_int(value):
    # bool is an int subclass; True is not a size.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass
class Policy:
    """One console-log policy.

    ``max_bytes`` is the trigger, compared with the log's allocated size;
    ``keep_bytes`` is the tail kept, cut at a line boundary.
    """

    name: str
    max_bytes: int
    keep_bytes: int
    scope_kind: str = GLOBAL
    scope_value: str | None = None
    backups: int = 0
    max_age_days: int | None = None
    mode: str = REPORT
    enabled: bool = True

    @property
    def scope(self):
        return (self.scope_kind, self.scope_value)

    def describe_scope(self):
        if self.scope_kind == GLOBAL:
            return GLOBAL
        return '%s=%s' % (self.scope_kind, self.scope_value)

    def validate(self):
        """Raise PolicyError with a message naming the first bad field."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise PolicyError('name must be a non-empty string')
        if len(self.name) > MAX_NAME:
            raise PolicyError('name is longer than %d characters' % MAX_NAME)
        if self.scope_kind not in SCOPE_KINDS:
            raise PolicyError('unknown scope kind %r; expected one of %s'
                              % (self.scope_kind, ', '.join(SCOPE_KINDS)))
        if self.scope_kind == GLOBAL:
            if self.scope_value not in (None, ''):
                raise PolicyError('a global scope takes no value (got %r)'
                                  % (self.scope_value,))
        else:
            value = self.scope_value
            if not isinstance(value, str) or not value.strip():
                raise PolicyError('scope kind %r needs a value'
                                  % self.scope_kind)
            if len(value) > MAX_SCOPE_VALUE or value != value.strip():
                raise PolicyError('scope value %r is not a valid %s'
                                  % (value, self.scope_kind))
            if (self.scope_kind == INSTANCE
                    and not uuidutils.is_uuid_like(value)):
                raise PolicyError('instance scope value %r is not a UUID'
                                  % value)
        for field in ('max_bytes', 'keep_bytes'):
            value = getattr(self, field)
            if not _is_int(value):
                raise PolicyError('%s must be an integer (got %r)'
                                  % (field, value))
            if value <= 0:
                raise PolicyError('%s must be greater than zero (got %d)'
                                  % (field, value))
            if value > MAX_BYTES:
                raise PolicyError('%s must be at most %d (got %d)'
                                  % (field, MAX_BYTES, value))
        if self.keep_bytes > self.max_bytes:
            raise PolicyError(
                'keep_bytes (%d) must not exceed max_bytes (%d)'
                % (self.keep_bytes, self.max_bytes))
        if not _is_int(self.backups) or not 0 <= self.backups <= MAX_BACKUPS:
            raise PolicyError('backups must be an integer from 0 to %d '
                              '(got %r)' % (MAX_BACKUPS, self.backups))
        if self.max_age_days is not None and (
                not _is_int(self.max_age_days)
                or not 0 < self.max_age_days <= MAX_AGE_DAYS):
            raise PolicyError('max_age_days must be an integer from 1 to %d '
                              'or null (got %r)'
                              % (MAX_AGE_DAYS, self.max_age_days))
        if self.mode not in MODES:
            raise PolicyError('unknown mode %r; expected one of %s'
                              % (self.mode, ', '.join(MODES)))
        if not isinstance(self.enabled, bool):
            raise PolicyError('enabled must be true or false (got %r)'
                              % (self.enabled,))
        return self

    def to_dict(self):
        return {'name': self.name,
                'scope': {'kind': self.scope_kind, 'value': self.scope_value},
                'max_bytes': self.max_bytes, 'keep_bytes': self.keep_bytes,
                'backups': self.backups, 'max_age_days': self.max_age_days,
                'mode': self.mode, 'enabled': self.enabled}

    @classmethod
    def from_dict(cls, data):
        """Build and validate a policy from the API's JSON shape."""
        if not isinstance(data, dict):
            raise PolicyError('a policy must be an object')
        known = {'name', 'scope', 'max_bytes', 'keep_bytes', 'backups',
                 'max_age_days', 'mode', 'enabled'}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError('unknown field(s): %s' % ', '.join(unknown))
        for field in ('name', 'max_bytes', 'keep_bytes'):
            if field not in data:
                raise PolicyError('%s is required' % field)
        scope = data.get('scope', {'kind': GLOBAL})
        if not isinstance(scope, dict) or 'kind' not in scope:
            raise PolicyError('scope must be an object with a "kind"')
        policy = cls(name=data['name'], max_bytes=data['max_bytes'],
                     keep_bytes=data['keep_bytes'],
                     scope_kind=scope['kind'],
                     scope_value=scope.get('value'),
                     backups=data.get('backups', 0),
                     max_age_days=data.get('max_age_days'),
                     mode=data.get('mode', REPORT),
                     enabled=data.get('enabled', True))
        return policy.validate()


def duplicate_scopes(policies):
    """Return {(kind, value): [names]} for scopes held by several policies.

    Duplicates are counted whether or not the policies are enabled: enabling
    one later would otherwise make the choice silently ambiguous.
    """
    seen = {}
    for policy in policies:
        seen.setdefault(policy.scope, []).append(policy.name)
    return {scope: sorted(names) for scope, names in seen.items()
            if len(names) > 1}


@dataclasses.dataclass
class Selection:
    """The applicable policy (or None) and a sentence saying why."""

    policy: Policy | None
    why: str

    def to_dict(self):
        return {'policy': self.policy.name if self.policy else None,
                'why': self.why}


def select(policies, instance_uuid, project_id=None, host=None):
    """Pick the most specific enabled policy for one instance.

    instance > host > project > global. Two enabled policies tied at the
    winning scope are ambiguous: nothing is applied (when in doubt, refuse)
    and the why says which ones clash.
    """
    wanted = {INSTANCE: instance_uuid, HOST: host, PROJECT: project_id,
              GLOBAL: None}
    matches = {kind: [] for kind in SCOPE_KINDS}
    disabled = []
    for policy in policies:
        kind = policy.scope_kind
        if kind not in wanted:
            continue
        if kind != GLOBAL and (wanted[kind] is None
                               or policy.scope_value != wanted[kind]):
            continue
        if policy.enabled:
            matches[kind].append(policy)
        else:
            disabled.append(policy)
    skipped = ''
    if disabled:
        skipped = '; disabled and skipped: %s' % ', '.join(
            "'%s' (%s)" % (p.name, p.describe_scope())
            for p in sorted(disabled, key=lambda p: p.name))
    for rank, kind in enumerate(reversed(SCOPE_KINDS)):
        found = sorted(matches[kind], key=lambda p: p.name)
        if not found:
            continue
        if len(found) > 1:
            return Selection(None, 'ambiguous: policies %s all have scope '
                             '%s; none applied until one is removed%s'
                             % (', '.join("'%s'" % p.name for p in found),
                                found[0].describe_scope(), skipped))
        policy = found[0]
        less = [p for k in list(reversed(SCOPE_KINDS))[rank + 1:]
                for p in sorted(matches[k], key=lambda p: p.name)]
        why = ("policy '%s' applies: scope %s is the most specific "
               "enabled match" % (policy.name, policy.describe_scope()))
        if less:
            why += ' (overrides %s)' % ', '.join(
                "'%s' (%s)" % (p.name, p.describe_scope()) for p in less)
        if project_id is None:
            why += '; project unknown, project policies not considered'
        return Selection(policy, why + skipped)
    why = 'no enabled policy matches instance %s' % instance_uuid
    if project_id is None:
        why += ' (project unknown, project policies not considered)'
    return Selection(None, why + skipped)
