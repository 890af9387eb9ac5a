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

"""cryptkeeper-status: upgrade checks (oslo.upgradecheck)."""

import sys

from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck

from cryptkeeper import conf
from cryptkeeper.conf import targets as target_conf
from cryptkeeper.db import migration

CONF = conf.CONF


class Checks(upgradecheck.UpgradeCommands):
    """Checks to run before and after an upgrade."""

    def _check_schema(self):
        try:
            current = migration.version()
        except Exception as exc:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Cannot read the database schema revision: %s' %
                type(exc).__name__)
        expected = migration.head()
        if current != expected:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Schema is at %s, expected %s: run "cryptkeeper-manage db '
                'sync".' % (current, expected))
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    def _check_targets(self):
        # Target groups exist only once the config files are parsed.
        target_conf.register_target_opts(CONF)
        missing = [name for name in CONF.targets
                   if not target_conf.get_target(CONF, name).connection]
        if missing:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Targets without a connection: %s. Set [target:NAME] '
                'connection for each.' % ', '.join(missing))
        if not CONF.targets:
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                'No targets are configured; cryptkeeper has nothing to '
                'clean. Set [DEFAULT] targets.')
        return upgradecheck.Result(upgradecheck.Code.SUCCESS)

    _upgrade_checks = (
        ('Database schema', _check_schema),
        ('Targets', _check_targets),
        ('Policy file', (common_checks.check_policy_json,
                         {'conf': CONF})),
    )


def main():
    return upgradecheck.main(CONF, project='cryptkeeper',
                             upgrade_command=Checks(), argv=sys.argv[1:])
