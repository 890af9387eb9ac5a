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

"""Purge parameters: every bad input is refused with a readable message."""

import datetime

from cryptkeeper.purge import errors
from cryptkeeper.purge import params
from cryptkeeper.tests import base

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0)
UUID = '6f1c0b1e-5f5e-4c2b-9a57-6a4e4e0b8f11'


class TestParams(base.TestCase):

    def parse(self, **data):
        return params.Params.from_dict(data, now=NOW)

    def refused(self, *words, **data):
        exc = self.assertRaises(errors.InvalidParams, self.parse, **data)
        for word in words:
            self.assertIn(word, exc.message)
        return exc.message

    def test_defaults(self):
        p = self.parse()
        self.assertEqual(('plan', 500, 'shadow', None, None, 0),
                         (p.mode, p.batch_size, p.backend, p.older_than,
                          p.before, p.pause))
        # Nothing said about age: every deleted row.
        self.assertEqual(NOW, p.cutoff())
        self.assertIsNone(params.Params.from_dict(None, now=NOW).tables)

    def test_normalised_dict_round_trips(self):
        p = self.parse(mode='archive', older_than=30,
                       tables=['instances', 'instances'], project_id=' p1 ',
                       batch_size='100',
                       max_rows_per_second=2000, pause=1.5,
                       window='2:00-4:30', backend='files')
        d = p.to_dict()
        self.assertEqual({
            'mode': 'archive', 'older_than': 30, 'before': None,
            'tables': ['instances'], 'project_id': 'p1', 'batch_size': 100,
            'max_rows_per_second': 2000, 'pause': 1.5,
            'window': '02:00-04:30', 'backend': 'files',
            'retention_days': None, 'restore_job': None, 'cells': None}, d)
        again = params.Params.from_dict(d, now=NOW)
        self.assertEqual(d, again.to_dict())
        self.assertEqual(NOW - datetime.timedelta(days=30), p.cutoff())
        self.assertEqual(NOW, p.cutoff(NOW + datetime.timedelta(days=30)))

    def test_before_is_normalised_to_naive_utc(self):
        p = self.parse(before='2025-05-01T14:00:00+02:00')
        self.assertEqual(datetime.datetime(2025, 5, 1, 12, 0), p.before)
        self.assertEqual(p.before, p.cutoff())
        self.assertEqual('2025-05-01T12:00:00', p.to_dict()['before'])
        self.assertEqual(datetime.datetime(2025, 5, 1),
                         self.parse(before='2025-05-01').before)

    def test_purge_and_restore_modes(self):
        self.assertEqual(90, self.parse(mode='purge').retention_days)
        self.assertEqual(7, self.parse(mode='purge',
                                       retention_days=7).retention_days)
        p = self.parse(mode='restore', restore_job=UUID.upper())
        self.assertEqual(UUID, p.restore_job)
        self.assertEqual('all', self.parse(cells='all').cells)

    def test_unknown_key(self):
        message = self.refused('olderthan', 'older_than', olderthan=3)
        self.assertIn('Unknown purge parameter', message)

    def test_not_an_object(self):
        exc = self.assertRaises(errors.InvalidParams,
                                params.Params.from_dict, ['x'], NOW)
        self.assertIn('object', exc.message)

    def test_older_than_negative_absurd_or_not_a_number(self):
        self.refused('older_than', '0 and 36500', older_than=-1)
        self.refused('older_than', '36500', older_than=36501)
        self.refused('older_than', 'number', older_than='soon')
        self.refused('older_than', 'number', older_than=True)
        self.refused('older_than', 'number', older_than=float('nan'))

    def test_older_than_and_before_together(self):
        self.refused('not both', older_than=3, before='2025-01-01T00:00:00')

    def test_before_in_the_future_or_malformed(self):
        self.refused('future', before='2025-06-02T00:00:00')
        self.refused('future', before='2025-06-01T13:00:00+00:00')
        self.refused('ISO 8601', before='yesterday')
        self.refused('ISO 8601', before=20250101)
        self.refused('36500 days', before='1900-01-01T00:00:00')

    def test_batch_size(self):
        self.refused('batch_size', '1 and 10000', batch_size=0)
        self.refused('batch_size', '10000', batch_size=10001)
        self.refused('batch_size', 'whole number', batch_size=2.5)
        self.assertEqual(10000, self.parse(batch_size=10000).batch_size)

    def test_rate_and_pause(self):
        self.refused('max_rows_per_second', max_rows_per_second=0)
        self.refused('max_rows_per_second', max_rows_per_second=10 ** 7)
        self.refused('pause', pause=-1)
        self.refused('pause', pause=3601)

    def test_bad_window(self):
        self.refused('window', 'HH:MM-HH:MM', window='22-04')
        self.refused('window', 'impossible', window='25:00-04:00')
        self.refused('window', 'impossible', window='22:60-04:00')
        self.refused('window', 'starts when it ends', window='04:00-04:00')
        self.refused('window', 'string', window=2200)

    def test_bad_mode_and_backend(self):
        self.refused('mode', 'plan, archive, purge, restore', mode='delete')
        self.refused('backend', 'shadow, database, files', backend='s3')

    def test_restore_needs_its_job(self):
        self.refused('restore_job', 'uuid', mode='restore')
        self.refused('restore_job', 'uuid', mode='restore',
                     restore_job='job-1')
        self.refused('restore_job', 'mode restore', mode='archive',
                     restore_job=UUID)

    def test_retention_only_for_purge(self):
        self.refused('retention_days', 'mode purge', mode='archive',
                     retention_days=3)
        self.refused('retention_days', '36500', mode='purge',
                     retention_days=40000)

    def test_cells_only_all(self):
        self.refused('cells', '"all"', cells='cell1')
        self.refused('cells', cells=['all'])

    def test_bad_tables(self):
        self.refused('tables', 'non-empty', tables=[])
        self.refused('not a table name', tables=['instances; drop'])
        self.refused('not a table name', tables=[3])
        self.refused('never purged', tables=['shadow_instances'])
        self.refused('never purged', tables=['alembic_version'])
        self.assertEqual(['instances'], self.parse(
            tables='instances').tables)

    def test_bad_project(self):
        self.refused('project_id', project_id='')
        self.refused('project_id', project_id=7)


class TestWindow(base.TestCase):

    def at(self, hour, minute=0):
        return datetime.datetime(2025, 6, 1, hour, minute)

    def test_plain_window(self):
        window = params.parse_window('01:00-05:30')
        self.assertTrue(params.in_window(window, self.at(1)))
        self.assertTrue(params.in_window(window, self.at(5, 29)))
        self.assertFalse(params.in_window(window, self.at(5, 30)))
        self.assertEqual(3600, params.seconds_until_open(window,
                                                         self.at(0)))
        self.assertEqual(0, params.seconds_until_open(window, self.at(2)))
        # After today's window: tomorrow's.
        self.assertEqual(19 * 3600, params.seconds_until_open(
            window, self.at(6)))

    def test_window_over_midnight(self):
        window = params.parse_window('22:00-04:00')
        self.assertTrue(params.in_window(window, self.at(23)))
        self.assertTrue(params.in_window(window, self.at(3, 59)))
        self.assertFalse(params.in_window(window, self.at(4)))
        self.assertEqual(2 * 3600, params.seconds_until_open(
            window, self.at(20)))
