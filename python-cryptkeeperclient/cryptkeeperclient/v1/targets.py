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

"""Manager for cleanup targets (/v1/targets)."""

from cryptkeeperclient.v1 import base


class TargetManager(base.Manager):
    """Read the targets defined in the service's configuration."""

    path = '/v1/targets'

    def list(self):
        """List every target."""
        return self._list(self.path, 'targets')

    def get(self, name):
        """Return one target."""
        return self._get(self._item(name))

    def census(self, name):
        """Return the latest successful census of a target."""
        return self._get(self._item(name, 'census'))
