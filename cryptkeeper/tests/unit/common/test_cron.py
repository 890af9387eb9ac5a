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

"""Cron expressions: what crontab(5) accepts, refuses, and when it fires."""

import datetime
import random

from cryptkeeper.common import cron
from cryptkeeper.tests import base

dt = datetime.datetime
# A Sunday.
SUNDAY = dt(2026, 11, 22, 10, 17, 42)


class NextAfterTestCase(base.TestCase):

    def assertNext(self, expected, text, moment=SUNDAY):
        self.assertEqual(expected, cron.next_after(text, moment), text)

    def test_every_minute_is_strictly_after(self):
        self.assertNext(dt(2026, 11, 22, 10, 18), '* * * * *')
        self.assertNext(dt(2026, 11, 22, 10, 18), '* * * * *',
                        dt(2026, 11, 22, 10, 17))

    def test_daily_at_a_time(self):
        self.assertNext(dt(2026, 11, 23, 2, 30), '30 2 * * *')
        self.assertNext(dt(2026, 11, 22, 10, 30), '30 10 * * *')
        self.assertNext(dt(2026, 11, 23, 10, 17), '17 10 * * *')

    def test_steps_ranges_and_lists(self):
        self.assertNext(dt(2026, 11, 22, 10, 30), '*/15 * * * *')
        self.assertNext(dt(2026, 11, 22, 10, 20), '5/15 * * * *')
        self.assertNext(dt(2026, 11, 22, 12, 0), '0 0-23/6 * * *')
        self.assertNext(dt(2026, 11, 22, 10, 40), '10,40 9-11 * * *')
        self.assertNext(dt(2026, 11, 23, 9, 10), '10,40 9-10 * * *',
                        dt(2026, 11, 22, 10, 40))

    def test_names_are_case_insensitive(self):
        self.assertNext(dt(2026, 11, 23, 3, 0), '0 3 * * MON')
        self.assertNext(dt(2026, 11, 24, 3, 0), '0 3 * * tue-Thu')
        self.assertNext(dt(2027, 1, 1, 0, 0), '0 0 1 jan *')

    def test_sunday_is_0_and_7(self):
        saturday = dt(2026, 11, 21, 12, 0)
        self.assertNext(dt(2026, 11, 22, 0, 0), '0 0 * * 0', saturday)
        self.assertNext(dt(2026, 11, 22, 0, 0), '0 0 * * 7', saturday)
        self.assertNext(dt(2026, 11, 22, 0, 0), '0 0 * * 6-7',
                        dt(2026, 11, 21, 1, 0))

    def test_day_of_month_or_day_of_week_when_both_are_set(self):
        # crontab: the 13th, or any Friday (2026-11-27).
        self.assertNext(dt(2026, 11, 27, 0, 0), '0 0 13 * fri')
        self.assertNext(dt(2026, 12, 4, 0, 0), '0 0 13 * fri',
                        dt(2026, 11, 27, 0, 0))
        self.assertNext(dt(2026, 12, 13, 0, 0), '0 0 13 * fri',
                        dt(2026, 12, 12, 0, 0))
        # With a starred field only the other one restricts.
        self.assertNext(dt(2026, 12, 13, 0, 0), '0 0 13 * *')
        self.assertNext(dt(2026, 11, 27, 0, 0), '0 0 * * fri')
        # "*/2" counts as a star, as in crontab: both must match.
        self.assertNext(dt(2026, 12, 5, 0, 0), '0 0 */2 * sat')

    def test_month_ends_and_leap_days(self):
        self.assertNext(dt(2026, 12, 31, 0, 0), '0 0 31 * *')
        self.assertNext(dt(2028, 2, 29, 6, 0), '0 6 29 2 *')
        # 2100 is no leap year: the next 29 February after 2096 is 2104.
        self.assertNext(dt(2104, 2, 29, 0, 0), '0 0 29 2 *',
                        dt(2096, 3, 1))

    def test_year_rollover(self):
        self.assertNext(dt(2027, 1, 1, 0, 0), '@yearly',
                        dt(2026, 12, 31, 23, 59, 59))

    def test_aliases(self):
        self.assertNext(dt(2026, 11, 22, 11, 0), '@hourly')
        self.assertNext(dt(2026, 11, 23, 0, 0), '@daily')
        self.assertNext(dt(2026, 11, 23, 0, 0), '@midnight')
        self.assertNext(dt(2026, 11, 29, 0, 0), '@weekly')
        self.assertNext(dt(2026, 12, 1, 0, 0), '@monthly')
        self.assertNext(dt(2027, 1, 1, 0, 0), '@annually')

    def test_whitespace_and_alias_case_are_normalised(self):
        self.assertEqual('30 2 * * *', str(cron.parse('  30\t2 *  * *\n')))
        self.assertEqual('@weekly', str(cron.parse(' @WEEKLY ')))

    def test_next_after_is_the_first_matching_minute(self):
        # Checks next_after against a minute-by-minute walk for a spread
        # of expressions and moments.
        rng = random.Random(1234)
        exprs = ('*/7 */5 * * *', '0 0 1,15 * 1-5', '59 23 31 * *',
                 '0 12 * 2 sun', '15 3 1-7 * mon', '*/30 1 * jun-aug *',
                 '0 0 28-31 2 *', '45 7 * * 1,3,5')
        for text in exprs:
            expr = cron.parse(text)
            for _ in range(15):
                moment = dt(2026, 1, 1) + datetime.timedelta(
                    minutes=rng.randrange(366 * 24 * 60),
                    seconds=rng.randrange(60))
                found = expr.next_after(moment)
                self.assertGreater(found, moment)
                self.assertTrue(expr.matches(found), (text, found))
                walk = moment.replace(second=0) + datetime.timedelta(
                    minutes=1)
                # No earlier minute matches; walk at most 40 days.
                limit = min(found, walk + datetime.timedelta(days=40))
                while walk < limit:
                    self.assertFalse(expr.matches(walk), (text, walk))
                    walk += datetime.timedelta(minutes=1)

    def test_matches(self):
        expr = cron.parse('30 2 * * 1-5')
        self.assertTrue(expr.matches(dt(2026, 11, 23, 2, 30, 59)))
        self.assertFalse(expr.matches(dt(2026, 11, 22, 2, 30)))
        self.assertFalse(expr.matches(dt(2026, 11, 23, 2, 31)))


class InvalidTestCase(base.TestCase):

    def assertInvalid(self, text, *words):
        exc = self.assertRaises(cron.InvalidCron, cron.parse, text)
        for word in words:
            self.assertIn(word, str(exc), text)
        return str(exc)

    def test_field_count(self):
        self.assertInvalid('* * * *', 'has 4 fields', 'five')
        self.assertInvalid('0 * * * * *', 'has 6 fields')
        self.assertInvalid('0 0 * * * 2026', 'has 6 fields')
        self.assertInvalid('', 'empty')
        self.assertInvalid('   ', 'empty')

    def test_values_out_of_range(self):
        self.assertInvalid('60 * * * *', 'minute', 'between 0 and 59', '60')
        self.assertInvalid('0 24 * * *', 'hour', 'between 0 and 23')
        self.assertInvalid('0 0 0 * *', 'day of month', 'between 1 and 31')
        self.assertInvalid('0 0 32 * *', 'day of month')
        self.assertInvalid('0 0 * 13 *', 'month', 'between 1 and 12')
        self.assertInvalid('0 0 * * 8', 'day of week', 'between 0 and 7')

    def test_malformed_items(self):
        self.assertInvalid('a * * * *', "'a' is not a valid minute")
        self.assertInvalid('-1 * * * *', 'minute')
        self.assertInvalid('1,,2 * * * *', 'empty list item')
        self.assertInvalid('*/0 * * * *', 'step', 'positive')
        self.assertInvalid('*/x * * * *', 'step')
        self.assertInvalid('*/61 * * * *', 'larger than its range')
        self.assertInvalid('50-10 * * * *', 'runs backwards')
        self.assertInvalid('0 0 * * mon-sun', 'runs backwards')
        self.assertInvalid('0 0 * foo *', "'foo' is not a valid month")
        # Month names are no weekdays and the other way round.
        self.assertInvalid('0 0 * * jan', 'day of week')
        self.assertInvalid('0 0 * mon *', 'month')

    def test_extensions_of_other_tools_are_refused(self):
        for text in ('0 0 L * *', '0 0 * * 5#3', 'H * * * *',
                     '0 0 15W * *', '? * * * *', '0 0 * * 5L'):
            self.assertRaises(cron.InvalidCron, cron.parse, text)

    def test_aliases(self):
        self.assertInvalid('@reboot', 'not supported', '@daily')
        self.assertInvalid('@often', 'not supported')

    def test_never_fires(self):
        self.assertInvalid('0 0 30 2 *', 'never fires')
        self.assertInvalid('0 0 31 4,6,9,11 *', 'never fires')
        # With a weekday as well, crontab's OR makes it fire.
        cron.parse('0 0 30 2 mon')

    def test_not_a_string_or_too_long(self):
        self.assertInvalid(None, 'string')
        self.assertInvalid(5, 'string')
        self.assertInvalid('0 ' * 200, 'at most 255')
