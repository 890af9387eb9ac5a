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

"""Cinder's database: a boolean ``deleted`` flag and ``deleted_at``."""

from cryptkeeper.purge.profiles import base


class CinderProfile(base.Profile):
    """A cinder database.

    Soft delete is ``deleted`` true (a BOOLEAN; MySQL shows it as
    TINYINT(1), read as ``!= 0``), age ``deleted_at``. Cinder's
    volume_destroy soft-deletes a volume's metadata, admin metadata,
    glance metadata and attachments with it, so its foreign keys are
    enough: a soft-deleted child goes with its parent, a live one keeps
    it (and is reported), which ``cinder-manage db purge`` meets as a
    foreign key error that aborts the whole run. The self-reference of
    ``quality_of_service_specs`` (``specs_id``) is followed like any
    other foreign key.
    """

    name = 'cinder'
