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

"""The API root: version discovery."""

from pecan import rest
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers import v1


class Version(wtypes.Base):
    """A version of the API."""

    id = wtypes.text
    """The version, such as v1."""

    status = wtypes.text
    """CURRENT for the version clients should use."""

    links = [link.Link]
    """Links to the version's root."""

    @classmethod
    def convert(cls, vid, status='CURRENT'):
        return cls(id=vid, status=status,
                   links=[link.Link.make('self', vid)])


class Root(wtypes.Base):
    """The versions this server offers."""

    versions = [Version]
    """Every version."""

    default_version = Version
    """The version used by clients that do not ask for one."""


class RootController(rest.RestController):
    """/"""

    v1 = v1.Controller()

    @wsme_pecan.wsexpose(Root)
    def get(self):
        # Public: version discovery comes before authentication.
        current = Version.convert('v1')
        return Root(versions=[current], default_version=current)
