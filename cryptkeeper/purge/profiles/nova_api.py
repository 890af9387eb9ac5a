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

"""Nova's API database: hard deletes, plus the rows of archived instances."""

from cryptkeeper.purge.profiles import base


class NovaApiProfile(base.Profile):
    """A nova API database.

    Its tables have no soft-delete column (Nova hard-deletes there), so a
    plan or archive of this target alone finds nothing; a reflected table
    that grows one is handled by the generic conventions. Its rows are
    archived as follow-ups of a nova cell target: the
    ``instance_mappings``, ``request_specs`` and ``instance_group_member``
    rows of the instances the cell archived (see the nova profile).
    A ``cells: all`` job fans out to the cells of ``cell_mappings``.
    """

    name = 'nova_api'
