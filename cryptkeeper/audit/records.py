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

"""Build audit entries from the context of a request or a job."""

OUTCOMES = ('success', 'failure', 'denied', 'refused')


def entry(context, action, outcome='success', reason=None, details=None,
          resource_type=None, resource_id=None):
    """Return an audit entry mapping for ``Connection`` write methods.

    :param context: a RequestContext (who asked) or None for the service.
    """
    if outcome not in OUTCOMES:
        raise ValueError('unknown audit outcome %r' % outcome)
    return {
        'request_id': getattr(context, 'request_id', None),
        'user_id': getattr(context, 'user_id', None),
        'project_id': getattr(context, 'project_id', None),
        'action': action,
        'outcome': outcome,
        'reason': reason,
        'details': details or {},
        'resource_type': resource_type,
        'resource_id': resource_id,
    }
