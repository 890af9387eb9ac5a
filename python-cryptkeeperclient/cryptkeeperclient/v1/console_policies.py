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

"""Manager for console-log policies (/v1/console-policies)."""

from cryptkeeperclient.v1 import base


class ConsolePolicyManager(base.Manager):
    """Create, list, show, change and delete console-log policies.

    The API finds a policy by its ID or by its name, so every method that
    takes a policy takes either.
    """

    path = '/v1/console-policies'

    def create(self, name, max_bytes, keep_bytes, scope=None, backups=None,
               max_age_days=None, mode=None, enabled=None):
        """Create a policy; the API answers 201 with it.

        ``scope`` is {"kind": ..., "value": ...}; None is global.
        """
        body = {'name': name, 'max_bytes': max_bytes,
                'keep_bytes': keep_bytes}
        for key, value in (('scope', scope), ('backups', backups),
                           ('max_age_days', max_age_days), ('mode', mode),
                           ('enabled', enabled)):
            if value is not None:
                body[key] = value
        return self._post(self.path, body)

    def list(self, scope_kind=None, scope_value=None, mode=None,
             enabled=None, limit=None, marker=None, sort_key=None,
             sort_dir=None):
        """List policies."""
        params = {'scope_kind': scope_kind, 'scope_value': scope_value,
                  'mode': mode, 'enabled': base.query_bool(enabled),
                  'marker': marker, 'sort_key': sort_key,
                  'sort_dir': sort_dir}
        return self._list(self.path, 'console_policies', params,
                          limit=limit)

    def get(self, policy):
        """Return one policy by ID or name."""
        return self._get(self._item(policy))

    def effective(self, instance, project=None, host=None):
        """Which policy applies to an instance, and why."""
        params = {k: v for k, v in (('instance', instance),
                                    ('project', project), ('host', host))
                  if v is not None}
        return self._get(self.path + '/effective', params)

    def update(self, policy, changes):
        """Change a policy; ``changes`` is a merge patch of its fields.

        A field set to None returns to its default (max_age_days: none);
        ``scope`` is replaced whole.
        """
        return self._patch(self._item(policy), changes)

    def delete(self, policy):
        """Delete a policy."""
        self.api.delete(self._item(policy))
