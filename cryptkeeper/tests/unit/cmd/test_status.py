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

"""cryptkeeper-status upgrade check: the soft-deleted rows warning."""

import json
import os
import subprocess
import sys

import fixtures
from oslo_upgradecheck import upgradecheck
import sqlalchemy as sa

from cryptkeeper.audit import records
from cryptkeeper.cmd import status
from cryptkeeper.db import api as db_api
from cryptkeeper.db.sqlalchemy import api as sqla_api
from cryptkeeper.db.sqlalchemy import migration
from cryptkeeper.tests import base

SUCCESS = upgradecheck.Code.SUCCESS
WARNING = upgradecheck.Code.WARNING


def census_result(soft_deleted, tables=None):
    tables = tables or [{'name': 'instances', 'rows': soft_deleted + 5,
                         'soft_deleted': soft_deleted}]
    return {'tables': tables, 'totals': {'soft_deleted': soft_deleted,
                                         'rows': 0}}


def finish_census(dbapi, target, result, state='succeeded'):
    """A census job of ``target`` that ended in ``state`` with ``result``."""
    dbapi.create_job({'type': 'census', 'target': target},
                     records.entry(None, 'job.create'))
    job = dbapi.claim_job('test-worker', 60, types=['census'])
    return dbapi.finish_job(job.id, 'test-worker', job.lease_version, state,
                            result, {}, records.entry(None, 'job.finish'))


class SoftDeletedCheckTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture.set_targets(
            nova=('nova', 'sqlite:////tmp/nova.sqlite'),
            cinder=('cinder', 'sqlite:////tmp/cinder.sqlite'))
        self.config(soft_deleted_warning_threshold=1000, group='purge')

    def check(self):
        return status.Checks()._check_soft_deleted()

    def test_over_the_threshold_warns_with_what_to_run(self):
        job = finish_census(self.dbapi, 'nova', census_result(0, [
            {'name': 'instances', 'rows': 900, 'soft_deleted': 800},
            {'name': 'instance_system_metadata', 'rows': 5000,
             'soft_deleted': 4000},
            {'name': 'instance_faults', 'rows': 10, 'soft_deleted': 10},
            {'name': 'instance_metadata', 'rows': 300, 'soft_deleted': 200},
            {'name': 'services', 'rows': 3, 'soft_deleted': None},
        ]) | {'totals': {'soft_deleted': 5010}})
        finish_census(self.dbapi, 'cinder', census_result(12))
        result = self.check()
        self.assertEqual(WARNING, result.code)
        for text in ('Target nova has 5010 soft-deleted rows',
                     'census job %s' % job.uuid,
                     'most in instance_system_metadata 4000, instances 800, '
                     'instance_metadata 200',
                     'openstack cryptkeeper purge plan nova --older-than 90',
                     'openstack cryptkeeper purge archive nova',
                     '[purge] soft_deleted_warning_threshold = 1000'):
            self.assertIn(text, result.details)
        self.assertNotIn('cinder', result.details)

    def test_at_the_threshold_is_success(self):
        finish_census(self.dbapi, 'nova', census_result(1000))
        finish_census(self.dbapi, 'cinder', census_result(0))
        result = self.check()
        self.assertEqual(SUCCESS, result.code)
        self.assertIsNone(result.details)

    def test_each_target_over_is_named(self):
        finish_census(self.dbapi, 'nova', census_result(1001))
        finish_census(self.dbapi, 'cinder', census_result(2000))
        result = self.check()
        self.assertEqual(WARNING, result.code)
        self.assertIn('Target nova has 1001', result.details)
        self.assertIn('Target cinder has 2000', result.details)

    def test_only_the_latest_succeeded_census_counts(self):
        finish_census(self.dbapi, 'nova', census_result(50000))
        # After an archive, a new census shows the rows gone.
        finish_census(self.dbapi, 'nova', census_result(10))
        finish_census(self.dbapi, 'nova', {'error': 'unreachable'},
                      state='failed')
        finish_census(self.dbapi, 'cinder', census_result(0))
        self.assertEqual(SUCCESS, self.check().code)

    def test_threshold_zero_warns_on_any(self):
        self.config(soft_deleted_warning_threshold=0, group='purge')
        finish_census(self.dbapi, 'nova', census_result(1))
        finish_census(self.dbapi, 'cinder', census_result(0))
        result = self.check()
        self.assertEqual(WARNING, result.code)
        self.assertIn('Target nova has 1 soft-deleted rows', result.details)

    def test_targets_without_census_are_noted(self):
        finish_census(self.dbapi, 'nova', census_result(5))
        result = self.check()
        self.assertEqual(SUCCESS, result.code)
        self.assertIn('No census yet of: cinder', result.details)
        finish_census(self.dbapi, 'nova', census_result(5000))
        result = self.check()
        self.assertEqual(WARNING, result.code)
        self.assertIn('No census yet of: cinder', result.details)

    def test_odd_results_do_not_break_the_check(self):
        finish_census(self.dbapi, 'nova', {'totals': {'soft_deleted': 'x'}})
        finish_census(self.dbapi, 'cinder', {})
        self.assertEqual(SUCCESS, self.check().code)

    def test_unreadable_database_is_a_warning_not_a_crash(self):
        with sqla_api.main_context.writer.using(self) as session:
            session.execute(sa.text('DROP TABLE jobs'))
        result = self.check()
        self.assertEqual(WARNING, result.code)
        self.assertIn('Cannot read the census results', result.details)

    def test_option_bounds(self):
        self.assertRaises(ValueError, self.config,
                          soft_deleted_warning_threshold=-1, group='purge')


class StatusCommandTestCase(base.TestCase):
    """The real command, in its own process, as an operator runs it."""

    def setUp(self):
        super().setUp()
        state = self.conf_fixture.state_path
        url = 'sqlite:///' + os.path.join(state, 'ck.sqlite')
        engine = sa.create_engine(url)
        self.addCleanup(engine.dispose)
        migration.upgrade('head', engine=engine)
        db = self.useFixture(_Engine(engine))
        self.dbapi = db.dbapi
        self.config_file = os.path.join(state, 'ck.conf')
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\ntargets = nova\n'
                    '[database]\nconnection = %s\n'
                    '[target:nova]\nprofile = nova\n'
                    'connection = sqlite:////tmp/nova.sqlite\n'
                    '[purge]\nsoft_deleted_warning_threshold = 100\n'
                    % url)

    def _status(self):
        proc = subprocess.run(
            [sys.executable, '-c', 'import sys; from cryptkeeper.cmd import '
             'status; sys.exit(status.main())', '--config-file',
             self.config_file, 'upgrade', 'check', '--json'],
            capture_output=True, text=True, timeout=120)
        checks = {c['check']: c for c in json.loads(proc.stdout)['checks']}
        return proc.returncode, checks['Soft-deleted rows']

    def test_exit_code_and_details(self):
        finish_census(self.dbapi, 'nova', census_result(99))
        rc, check = self._status()
        self.assertEqual((0, SUCCESS), (rc, check['result']))
        finish_census(self.dbapi, 'nova', census_result(101))
        rc, check = self._status()
        self.assertEqual((1, WARNING), (rc, check['result']))
        self.assertIn('Target nova has 101 soft-deleted rows',
                      check['details'])


class _Engine(fixtures.Fixture):
    """Point the test's own database calls at ``engine``."""

    def __init__(self, engine):
        super().__init__()
        self.engine = engine

    def _setUp(self):
        self.addCleanup(sqla_api.main_context.patch_engine(
            sqla_api.prepare_engine(self.engine)))
        self.dbapi = db_api.get_instance()
