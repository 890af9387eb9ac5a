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
from cryptkeeper.db import api as db_api
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

    def _check_soft_deleted(self):
        """Warn when a census found too many soft-deleted rows.

        Reads the latest succeeded census of each target from
        cryptkeeper's database; it never connects to the targets.
        """
        target_conf.register_target_opts(CONF)
        threshold = CONF.purge.soft_deleted_warning_threshold
        dbapi = db_api.get_instance()
        over, unknown = [], []
        try:
            for name in CONF.targets:
                job = dbapi.latest_job(name, 'census')
                if job is None:
                    unknown.append(name)
                    continue
                count = _soft_deleted(job.result)
                if count > threshold:
                    over.append(_over_message(name, count, job))
        except Exception as exc:
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                'Cannot read the census results: %s. Fix the database '
                'check above first.' % type(exc).__name__)
        note = ''
        if unknown:
            note = (' No census yet of: %s; run "openstack cryptkeeper job '
                    'create --type census --target NAME" to count.'
                    % ', '.join(unknown))
        if over:
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                '%s The threshold is [purge] soft_deleted_warning_threshold '
                '= %d.%s' % (' '.join(over), threshold, note))
        return upgradecheck.Result(upgradecheck.Code.SUCCESS,
                                   note.strip() or None)

    _upgrade_checks = (
        ('Database schema', _check_schema),
        ('Targets', _check_targets),
        ('Soft-deleted rows', _check_soft_deleted),
        ('Policy file', (common_checks.check_policy_json,
                         {'conf': CONF})),
    )


def _soft_deleted(result):
    totals = (result or {}).get('totals') or {}
    try:
        return int(totals.get('soft_deleted') or 0)
    except (TypeError, ValueError):
        return 0


def _over_message(name, count, job):
    tables = [t for t in (job.result or {}).get('tables') or ()
              if isinstance(t, dict) and t.get('soft_deleted')]
    tables.sort(key=lambda t: (-t['soft_deleted'], t.get('name') or ''))
    largest = ', '.join('%s %d' % (t.get('name'), t['soft_deleted'])
                        for t in tables[:3])
    when = job.finished_at.strftime('%Y-%m-%d %H:%M UTC') \
        if job.finished_at else 'an unknown time'
    return ('Target %s has %d soft-deleted rows (census job %s of %s%s). '
            'See what an archive would move with "openstack cryptkeeper '
            'purge plan %s --older-than 90", then archive them with '
            '"openstack cryptkeeper purge archive %s --older-than 90", or '
            'create a schedule that does it regularly.'
            % (name, count, job.uuid, when,
               '; most in ' + largest if largest else '', name, name))


def main():
    return upgradecheck.main(CONF, project='cryptkeeper',
                             upgrade_command=Checks(), argv=sys.argv[1:])
