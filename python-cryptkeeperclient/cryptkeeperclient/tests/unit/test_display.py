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

"""Tests for how resources become cliff columns."""

import testtools

from cryptkeeperclient.v1 import display

CENSUS = {
    'target': 'demo',
    'tables': [
        {'name': 'instances', 'rows': 200, 'soft_deleted': 152,
         'age_buckets': {'lt_30d': 30, 'gt_365d': 40}},
        {'name': 'instance_actions', 'rows': 200, 'soft_deleted': None},
    ],
    'totals': {'rows': 400},
}


class DisplayTest(testtools.TestCase):

    def test_labels(self):
        self.assertEqual(['ID', 'Created At', 'Project ID', 'API Target'],
                         [display.label(f) for f in (
                             'id', 'created_at', 'project_id', 'api_target')])

    def test_flat_dict_is_one_line_in_the_api_order(self):
        column = display.cell({'step': 'count', 'done': 3, 'of': None})
        self.assertEqual('step=count, done=3, of=None',
                         column.human_readable())

    def test_nested_dict_has_a_line_per_key(self):
        column = display.cell(CENSUS)
        self.assertEqual(
            'target: demo\n'
            'tables:\n'
            '  name=instances, rows=200, soft_deleted=152, '
            'age_buckets.lt_30d=30, age_buckets.gt_365d=40\n'
            '  name=instance_actions, rows=200, soft_deleted=None\n'
            'totals: rows=400', column.human_readable())
        self.assertEqual(CENSUS, column.machine_readable())

    def test_list_of_dicts_has_a_line_per_item(self):
        column = display.cell(CENSUS['tables'])
        self.assertEqual(2, len(column.human_readable().splitlines()))
        self.assertEqual(CENSUS['tables'], column.machine_readable())

    def test_scalars_and_plain_lists(self):
        self.assertEqual(3, display.cell(3))
        self.assertIsNone(display.cell(None))
        self.assertEqual('a, b', display.cell(['a', 'b']).human_readable())

    def test_show_hides_links_and_appends_new_fields(self):
        columns, values = display.show(
            {'zeta': 1, 'links': [], 'name': 'n', 'alpha': 2},
            ('name', 'missing'))
        self.assertEqual(('name', 'alpha', 'zeta'), columns)
        self.assertEqual(('n', 2, 1), values)
