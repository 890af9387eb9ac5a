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

"""Reachability checks of targets, and one checker per target."""

import os

import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from cryptkeeper.common import coordination
from cryptkeeper.common import exception
from cryptkeeper import conf
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers
from cryptkeeper.worker import messages
from cryptkeeper.worker import targets

CONF = conf.CONF
# Port 1 on the loopback refuses at once: a dead database server.
DEAD = 'mysql+pymysql://nova:TopSecret42@127.0.0.1:1/nova'


class TestTargets(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(coordination.stop)
        self.path = os.path.join(self.conf_fixture.state_path, 't.sqlite')
        engine = sa.create_engine('sqlite:///' + self.path)
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE t (id INTEGER)')
        engine.dispose()
        self.missing = os.path.join(self.conf_fixture.state_path, 'no.db')
        self.conf_fixture.set_targets(
            up='sqlite:///' + self.path, dead=DEAD,
            gone='sqlite:///' + self.missing)
        self.checker = targets.TargetChecker(self.dbapi)

    def test_check_all_records_each_target(self):
        checked = self.checker.check_all()
        self.assertEqual(['dead', 'gone', 'up'], sorted(checked))
        states = self.dbapi.get_target_states()
        self.assertTrue(states['up'].reachable)
        self.assertIsNone(states['up'].error)
        self.assertFalse(states['dead'].reachable)
        self.assertIn('127.0.0.1', states['dead'].error)
        self.assertNotIn('TopSecret42', states['dead'].error)
        self.assertFalse(states['gone'].reachable)
        self.assertIn('does not exist', states['gone'].error)
        # Checking must not create the database it looks for.
        self.assertFalse(os.path.exists(self.missing))

    def test_recent_check_is_reused(self):
        self.checker.check_all()
        self.assertEqual({}, self.checker.check_all())
        self.assertEqual(3, len(self.checker.check_all(force=True)))

    def test_target_locked_elsewhere_is_left_to_its_checker(self):
        proc, state = helpers.lock_in_subprocess(
            CONF.coordination.backend_url, 'target-check-up')
        self.addCleanup(helpers.release_subprocess, proc)
        self.assertEqual('held', state)
        checked = self.checker.check_all()
        self.assertEqual(['dead', 'gone'], sorted(checked))
        self.assertNotIn('up', self.dbapi.get_target_states())

    def test_target_engine_refuses_empty_url(self):
        self.assertRaises(exception.TargetUnavailable,
                          targets.target_engine, 'x', None)
        self.assertRaises(exception.TargetUnavailable,
                          targets.target_engine, 'x', 'not a url')

    def test_jobs_get_a_small_pool_and_probes_none(self):
        url = 'mysql+pymysql://ck:secret@db.example/nova'
        engine = targets.target_engine('x', url, pooled=True)
        self.addCleanup(engine.dispose)
        self.assertIsInstance(engine.pool, sa_pool.QueuePool)
        self.assertEqual(targets.JOB_POOL_SIZE, engine.pool.size())
        self.assertTrue(engine.pool._pre_ping)
        probe = targets.target_engine('x', url)
        self.addCleanup(probe.dispose)
        self.assertIsInstance(probe.pool, sa_pool.NullPool)
        # SQLite connects in no time: no pool to keep.
        lite = targets.target_engine('x', 'sqlite://', pooled=True)
        self.addCleanup(lite.dispose)
        self.assertIsInstance(lite.pool, sa_pool.NullPool)


class TestMessages(base.TestCase):

    def test_urls_and_passwords_are_masked(self):
        text = messages.safe_message(RuntimeError(
            'failed on postgresql://ck:pa55word@db:5432/x and '
            "{'password': 'hunter2'} with TopSecret42"),
            secrets=('TopSecret42',))
        for secret in ('pa55word', 'hunter2', 'TopSecret42'):
            self.assertNotIn(secret, text)
        self.assertIn('postgresql://ck:***@db:5432/x', text)

    def test_long_messages_are_bounded(self):
        text = messages.safe_message(ValueError('x' * 5000))
        self.assertEqual(messages.MAX_LENGTH, len(text))

    def test_url_secrets(self):
        self.assertEqual(('s3',), messages.url_secrets('mysql://u:s3@h/d'))
        self.assertEqual((), messages.url_secrets('sqlite:///x'))
        self.assertEqual((), messages.url_secrets(None))
