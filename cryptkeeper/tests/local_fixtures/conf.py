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

"""A private configuration for each test, with its own state directory."""

import fixtures
from oslo_config import fixture as config_fixture

from cryptkeeper import conf
from cryptkeeper.conf import database
from cryptkeeper.conf import targets

CONF = conf.CONF


class ConfFixture(fixtures.Fixture):
    """Reset CONF after the test and point state_path at a temp dir."""

    def _setUp(self):
        self.state_path = self.useFixture(fixtures.TempDir()).path
        self.config = self.useFixture(config_fixture.Config(CONF))
        CONF([], project='cryptkeeper', default_config_files=[])
        # CONF.reset() at the end of every test drops set_default()s,
        # among them oslo.db's default connection; put it back.
        database.register_opts(CONF)
        self.config.config(state_path=self.state_path)
        self.config.config(auth_strategy='noauth', group='api')

    def set_targets(self, **target_urls):
        """Configure targets: name=(profile, url) or name=url (generic)."""
        names = sorted(target_urls)
        self.config.config(targets=names)
        targets.register_target_opts(CONF)
        for name in names:
            value = target_urls[name]
            profile, url = value if isinstance(value, tuple) else (
                'generic', value)
            self.config.config(group=targets.group_name(name),
                               profile=profile, connection=url)
