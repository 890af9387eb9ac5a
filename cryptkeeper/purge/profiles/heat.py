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

"""Heat's database: ``deleted_at`` without a flag, stacks own their rows."""

from cryptkeeper.purge.profiles import base

_rel = base.relation

# What heat-manage purge_deleted removes with a deleted stack; none of
# these tables has a soft-delete column of its own.
STACK_CHILDREN = ('resource', 'event', 'stack_lock', 'stack_tag',
                  'snapshot', 'sync_point')


class HeatProfile(base.Profile):
    """A heat database.

    ``stack`` and ``service`` mark deletion with ``deleted_at`` alone (no
    ``deleted`` flag; :func:`census.classify` calls that kind
    ``deleted_at``). A deleted stack takes its resources (and their
    ``resource_data``), events, lock, tags, snapshots and sync points.
    Raw templates, user credentials and resource properties data are
    referenced by stacks rather than owned through a key, and stay;
    nested stacks are stacks and are archived on their own.
    """

    name = 'heat'
    dependents = tuple(
        [_rel('stack', 'id', child, 'stack_id') for child in STACK_CHILDREN] +
        [_rel('resource', 'id', 'resource_data', 'resource_id')])
