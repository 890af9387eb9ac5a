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

"""Glance's database: ``images`` only on request (OSSN-0075)."""

from cryptkeeper.purge.profiles import base

# glance-manage db purge_images_table's default --age_in_days.
IMAGES_RETENTION_DAYS = 180


class GlanceProfile(base.Profile):
    """A glance database.

    Soft delete is ``deleted`` true with ``deleted_at``. The ``images``
    table is left alone unless the job names it, and even then only rows
    deleted more than 180 days ago go: security note OSSN-0075 ("Deleted
    Glance image IDs may be reassigned") explains that a purged image
    record frees its ID, which a user could then reuse for a different
    image that others still trust by ID. That is why glance-manage keeps
    ``images`` out of ``db purge`` and has ``db purge_images_table`` for
    it. The image's properties, locations, members and tags are still
    archived on their own when soft-deleted. ``task_info`` has no flag
    and belongs to its task.
    """

    name = 'glance'
    opt_in = {'images': IMAGES_RETENTION_DAYS}
    dependents = (base.relation('tasks', 'id', 'task_info', 'task_id'),)
