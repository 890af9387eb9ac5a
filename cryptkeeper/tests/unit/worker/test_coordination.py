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

"""Coordination locks on the file backend, across real processes."""

from cryptkeeper.common import coordination
from cryptkeeper import conf
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.worker import helpers

CONF = conf.CONF


class TestCoordination(base.TestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(coordination.stop)
        self.url = CONF.coordination.backend_url

    def test_default_backend_is_under_state_path(self):
        self.assertEqual('file://%s/locks' % self.conf_fixture.state_path,
                         self.url)

    def test_one_coordinator_per_process(self):
        self.assertIs(coordination.get_coordinator(),
                      coordination.get_coordinator())

    def test_lock_excludes_another_process(self):
        with coordination.lock('census-demo') as held:
            self.assertTrue(held)
            proc, state = helpers.lock_in_subprocess(self.url,
                                                     'census-demo')
            helpers.release_subprocess(proc)
            self.assertEqual('busy', state)
        proc, state = helpers.lock_in_subprocess(self.url, 'census-demo')
        helpers.release_subprocess(proc)
        self.assertEqual('held', state)

    def test_lock_held_by_another_process_is_not_ours(self):
        proc, state = helpers.lock_in_subprocess(self.url, 'purge-nova')
        self.addCleanup(helpers.release_subprocess, proc)
        self.assertEqual('held', state)
        with coordination.lock('purge-nova', blocking=False) as held:
            self.assertFalse(held)
        # Other names are independent.
        with coordination.lock('purge-cinder', blocking=False) as held:
            self.assertTrue(held)
        helpers.release_subprocess(proc)
        with coordination.lock('purge-nova', blocking=5) as held:
            self.assertTrue(held)

    def test_new_backend_url_replaces_coordinator(self):
        first = coordination.get_coordinator()
        self.config(backend_url='file://%s/other-locks'
                    % self.conf_fixture.state_path, group='coordination')
        self.assertIsNot(first, coordination.get_coordinator())
