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

"""Nova's cell database: what instance_destroy leaves behind."""

from cryptkeeper.purge.profiles import base

_rel = base.relation

# Rows that belong to an instance. Nova's instance_destroy soft-deletes
# most of them with the instance, but older releases left some live
# (bug #1622545) and it never soft-deletes the actions and their events,
# which operators read after the fact; Nova's own archive takes all of
# them through the instance. pci_devices is not here on purpose: a device
# row is the host's, not the instance's (bug #1899541).
INSTANCE_CHILDREN = (
    'instance_actions', 'instance_extra', 'instance_info_caches',
    'block_device_mapping', 'instance_faults', 'instance_system_metadata',
    'instance_metadata', 'security_group_instance_association',
    'migrations', 'virtual_interfaces')


class NovaProfile(base.Profile):
    """A nova cell database.

    Soft delete is ``deleted = id`` (an integer flag, ``deleted != 0``).
    Ages: ``deleted_at``, but ``created_at`` for ``instance_actions`` and
    ``instance_actions_events`` (never soft-deleted) and ``updated_at``
    for ``task_log``, as ``nova-manage db purge`` measures them.
    ``task_log`` rows are never flagged: like ``nova-manage db
    archive_deleted_rows --task-log`` it is archived by age alone, and
    only when the job names it. Archived instances take their API
    database rows along (``instance_mappings``, ``request_specs``,
    ``instance_group_member``) when the target has an API target.
    """

    name = 'nova'
    dependents = tuple(
        [_rel('instances', 'uuid', child, 'instance_uuid')
         for child in INSTANCE_CHILDREN] +
        [_rel('instance_actions', 'id', 'instance_actions_events',
              'action_id'),
         # No foreign key: the EC2 id mapping of an instance, soft-deleted
         # with it by instance_destroy.
         _rel('instances', 'uuid', 'instance_id_mappings', 'uuid')])
    age_columns = {'instance_actions': 'created_at',
                   'instance_actions_events': 'created_at',
                   'task_log': 'updated_at'}
    age_only = frozenset(('task_log',))
    opt_in = {'task_log': 90}
    followups = (
        base.FollowUp('instances', 'uuid', 'nova_api',
                      (('instance_mappings', 'instance_uuid'),
                       ('request_specs', 'instance_uuid'),
                       ('instance_group_member', 'instance_uuid'))),
    )
