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

"""Console-log policy validation, duplicate scopes and precedence."""

from cryptkeeper.consolelog import policy
from cryptkeeper.tests import base
from cryptkeeper.tests.unit.consolelog import helpers

MiB = 1 << 20


def make(name='p', **kw):
    kw.setdefault('max_bytes', 10 * MiB)
    kw.setdefault('keep_bytes', MiB)
    return policy.Policy(name=name, **kw)


class TestValidate(base.TestCase):

    def assertInvalid(self, fragment, **kw):
        exc = self.assertRaises(policy.PolicyError, make(**kw).validate)
        self.assertIsInstance(exc, ValueError)
        self.assertIn(fragment, str(exc))

    def test_valid_policy_passes(self):
        p = make(scope_kind='instance', scope_value=helpers.UUID,
                 backups=3, max_age_days=7, mode='enforce')
        self.assertIs(p, p.validate())

    def test_keep_bytes_above_max_bytes(self):
        self.assertInvalid('keep_bytes (11) must not exceed max_bytes (10)',
                           max_bytes=10, keep_bytes=11)

    def test_zero_and_negative_sizes(self):
        self.assertInvalid('max_bytes must be greater than zero',
                           max_bytes=0, keep_bytes=0)
        self.assertInvalid('keep_bytes must be greater than zero',
                           keep_bytes=-5)
        self.assertInvalid('max_bytes must be an integer', max_bytes=True)
        self.assertInvalid('keep_bytes must be an integer', keep_bytes='1')

    def test_unknown_scope_kind(self):
        self.assertInvalid("unknown scope kind 'cell'", scope_kind='cell',
                           scope_value='c1')

    def test_scope_values(self):
        self.assertInvalid('global scope takes no value',
                           scope_value='x')
        self.assertInvalid("scope kind 'project' needs a value",
                           scope_kind='project')
        self.assertInvalid('is not a UUID', scope_kind='instance',
                           scope_value='not-a-uuid')
        self.assertInvalid('is not a valid host', scope_kind='host',
                           scope_value=' c01')

    def test_backups_age_mode_enabled(self):
        self.assertInvalid('backups must be an integer from 0 to 32',
                           backups=-1)
        self.assertInvalid('backups must be an integer from 0 to 32',
                           backups=33)
        self.assertInvalid('max_age_days must be an integer from 1 to '
                           '36500', max_age_days=0)
        self.assertInvalid('max_age_days must be an integer from 1 to '
                           '36500', max_age_days=36501)
        self.assertInvalid('max_bytes must be at most', max_bytes=2 ** 60,
                           keep_bytes=1)
        self.assertInvalid('name is longer than 255', name='n' * 256)
        self.assertInvalid("unknown mode 'delete'", mode='delete')
        self.assertInvalid('enabled must be true or false', enabled='yes')
        self.assertInvalid('name must be a non-empty string', name=' ')

    def test_from_dict_round_trip_and_defaults(self):
        data = {'name': 'big', 'scope': {'kind': 'host', 'value': 'c01'},
                'max_bytes': 2 * MiB, 'keep_bytes': MiB}
        p = policy.Policy.from_dict(data)
        self.assertEqual('report', p.mode)
        self.assertEqual(0, p.backups)
        self.assertTrue(p.enabled)
        self.assertEqual(p, policy.Policy.from_dict(p.to_dict()))

    def test_from_dict_rejects_unknown_and_missing(self):
        exc = self.assertRaises(policy.PolicyError, policy.Policy.from_dict,
                                {'name': 'x', 'max_bytes': 2, 'keep_bytes': 1,
                                 'colour': 'red'})
        self.assertIn('unknown field(s): colour', str(exc))
        exc = self.assertRaises(policy.PolicyError, policy.Policy.from_dict,
                                {'name': 'x', 'max_bytes': 2})
        self.assertIn('keep_bytes is required', str(exc))
        exc = self.assertRaises(policy.PolicyError, policy.Policy.from_dict,
                                {'name': 'x', 'max_bytes': 2, 'keep_bytes': 1,
                                 'scope': 'global'})
        self.assertIn('scope must be an object', str(exc))


class TestSelect(base.TestCase):

    def setUp(self):
        super().setUp()
        self.all = [
            make('everyone'),
            make('tenant', scope_kind='project', scope_value='proj-a'),
            make('host', scope_kind='host', scope_value='c01'),
            make('this-vm', scope_kind='instance',
                 scope_value=helpers.UUID),
        ]

    def _pick(self, policies, instance=helpers.UUID, project='proj-a',
              host='c01'):
        return policy.select(policies, instance, project, host)

    def test_instance_beats_host_beats_project_beats_global(self):
        chain = list(self.all)
        for expected in ('this-vm', 'host', 'tenant', 'everyone'):
            chosen = self._pick(chain)
            self.assertEqual(expected, chosen.policy.name)
            self.assertIn("policy '%s' applies" % expected, chosen.why)
            chain = [p for p in chain if p.name != expected]
        self.assertIsNone(self._pick(chain).policy)

    def test_why_names_what_was_overridden(self):
        why = self._pick(self.all).why
        self.assertIn('scope instance=%s' % helpers.UUID, why)
        self.assertIn("overrides 'host' (host=c01), 'tenant' "
                      "(project=proj-a), 'everyone' (global)", why)

    def test_disabled_policy_is_skipped_and_said(self):
        self.all[3].enabled = False
        chosen = self._pick(self.all)
        self.assertEqual('host', chosen.policy.name)
        self.assertIn("disabled and skipped: 'this-vm'", chosen.why)

    def test_other_scopes_do_not_match(self):
        chosen = self._pick(self.all, instance=helpers.OTHER_UUID,
                            project='proj-b', host='c02')
        self.assertEqual('everyone', chosen.policy.name)

    def test_unknown_project_is_stated(self):
        chosen = self._pick(self.all[:2], project=None)
        self.assertEqual('everyone', chosen.policy.name)
        self.assertIn('project unknown', chosen.why)

    def test_tie_at_winning_scope_applies_nothing(self):
        twin = make('host-twin', scope_kind='host', scope_value='c01')
        chosen = self._pick(self.all[:3] + [twin])
        self.assertIsNone(chosen.policy)
        self.assertIn("ambiguous: policies 'host', 'host-twin'", chosen.why)
        self.assertEqual({'policy': None, 'why': chosen.why},
                         chosen.to_dict())

    def test_policy_change_takes_effect_on_next_selection(self):
        self.assertEqual('this-vm', self._pick(self.all).policy.name)
        self.all[3].enabled = False
        self.all[2].keep_bytes = 5
        chosen = self._pick(self.all)
        self.assertEqual(('host', 5),
                         (chosen.policy.name, chosen.policy.keep_bytes))

    def test_duplicate_scopes(self):
        dupes = policy.duplicate_scopes(self.all + [
            make('again', scope_kind='project', scope_value='proj-a',
                 enabled=False),
            make('global-2')])
        self.assertEqual({('project', 'proj-a'): ['again', 'tenant'],
                          ('global', None): ['everyone', 'global-2']},
                         dupes)
        self.assertEqual({}, policy.duplicate_scopes(self.all))
