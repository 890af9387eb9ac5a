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

"""The house flake8 checks catch what they are meant to."""

from cryptkeeper.hacking import checks
from cryptkeeper.tests import base


class HackingTestCase(base.TestCase):

    def test_eventlet_refused_everywhere(self):
        for line in ('import eventlet', 'from eventlet import greenthread'):
            self.assertEqual(1, len(list(checks.no_eventlet(
                line, 'cryptkeeper/api/app.py'))))
        self.assertEqual([], list(checks.no_eventlet(
            'import eventlets_are_not_this', 'x.py')))

    def test_libraries_do_not_import_services(self):
        bad = ('import pecan', 'from cryptkeeper.api import app',
               'from cryptkeeper import worker',
               'from cryptkeeper.agent import loop')
        for lib in ('purge', 'imagecache', 'consolelog'):
            path = 'cryptkeeper/%s/scan.py' % lib
            for line in bad[:2]:
                self.assertEqual(1, len(list(
                    checks.libraries_stay_libraries(line, path))), line)
        self.assertEqual([], list(checks.libraries_stay_libraries(
            'import pecan', 'cryptkeeper/api/app.py')))
        self.assertEqual([], list(checks.libraries_stay_libraries(
            'from cryptkeeper.db import api', 'cryptkeeper/purge/x.py')))
