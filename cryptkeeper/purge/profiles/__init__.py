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

"""Profiles of the services whose databases cryptkeeper purges."""

from cryptkeeper.purge import errors
from cryptkeeper.purge.profiles import base
from cryptkeeper.purge.profiles import cinder
from cryptkeeper.purge.profiles import generic
from cryptkeeper.purge.profiles import glance
from cryptkeeper.purge.profiles import heat
from cryptkeeper.purge.profiles import nova
from cryptkeeper.purge.profiles import nova_api

Edge = base.Edge
FollowUp = base.FollowUp
Profile = base.Profile

_PROFILES = {cls.name: cls for cls in (
    nova.NovaProfile, nova_api.NovaApiProfile, cinder.CinderProfile,
    glance.GlanceProfile, heat.HeatProfile, generic.GenericProfile)}
NAMES = tuple(_PROFILES)


def get(name):
    """The profile called ``name``; a Profile passes through unchanged."""
    if isinstance(name, base.Profile):
        return name
    try:
        return _PROFILES[name]()
    except KeyError:
        raise errors.PurgeError(
            'Unknown profile %r; expected one of: %s.'
            % (name, ', '.join(NAMES))) from None
