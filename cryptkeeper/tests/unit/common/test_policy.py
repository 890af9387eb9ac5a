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

"""Policy defaults and the enforce() wrapper."""

import sys
from unittest import mock

import fixtures
from oslo_policy import policy as oslo_policy

from cryptkeeper.common import context
from cryptkeeper.common import exception
from cryptkeeper.common import policies
from cryptkeeper.common import policy
from cryptkeeper.tests import base

WRITES = {'cryptkeeper:job:create', 'cryptkeeper:job:cancel'}
READS = {'cryptkeeper:job:get_all', 'cryptkeeper:job:get',
         'cryptkeeper:audit:get_all', 'cryptkeeper:audit:get',
         'cryptkeeper:audit:verify', 'cryptkeeper:target:get_all',
         'cryptkeeper:target:get', 'cryptkeeper:target:census'}
WRITES |= {'cryptkeeper:schedule:create', 'cryptkeeper:schedule:update',
           'cryptkeeper:schedule:delete'}
READS |= {'cryptkeeper:schedule:get_all', 'cryptkeeper:schedule:get'}
WRITES |= {'cryptkeeper:console_policy:create',
           'cryptkeeper:console_policy:update',
           'cryptkeeper:console_policy:delete'}
READS |= {'cryptkeeper:console_policy:get_all',
          'cryptkeeper:console_policy:get', 'cryptkeeper:console_log:get_all',
          'cryptkeeper:console_log:get', 'cryptkeeper:agent:get_all',
          'cryptkeeper:agent:get'}
# What the compute-host agents call, with the service role.
AGENT = {'cryptkeeper:agent:heartbeat',
         'cryptkeeper:agent:report_console_logs',
         'cryptkeeper:agent:console_policies'}


def _ctx(roles, project_id=None, system_scope=None):
    return context.RequestContext(user_id='u', project_id=project_id,
                                  roles=roles, system_scope=system_scope,
                                  request_id='req-1', overwrite=False)


class DefaultsTestCase(base.TestCase):

    def test_every_rule_is_documented_with_operations(self):
        rules = {r.name: r for r in policies.list_rules()}
        self.assertEqual(READS | WRITES | AGENT, set(rules))
        for rule in rules.values():
            self.assertIsInstance(rule, oslo_policy.DocumentedRuleDefault)
            self.assertTrue(rule.operations)
            self.assertEqual(['system', 'project'], rule.scope_types)
            for op in rule.operations:
                self.assertTrue(op['path'].startswith('/v1/'))

    def test_check_strings(self):
        rules = {r.name: r.check_str for r in policies.list_rules()}
        for name in WRITES:
            self.assertEqual('role:admin', rules[name])
        for name in READS:
            self.assertEqual(
                'role:admin or (role:reader and system_scope:all)',
                rules[name])
        for name in AGENT:
            self.assertTrue(rules[name].startswith(
                'role:service or role:admin'), name)

    def test_action_of(self):
        self.assertEqual('job.create',
                         policy.action_of('cryptkeeper:job:create'))


class EnforceTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        policy.reset()
        self.addCleanup(policy.reset)

    def _denied(self):
        return [r for r in self.dbapi.list_audit() if r.outcome == 'denied']

    def test_personas(self):
        admin = _ctx(['admin', 'member', 'reader'], project_id='p')
        auditor = _ctx(['reader'], system_scope='all')
        member = _ctx(['member', 'reader'], project_id='p')
        reader = _ctx(['reader'], project_id='p')
        for rule in READS | WRITES:
            policy.enforce(admin, rule)
        for rule in READS:
            policy.enforce(auditor, rule)
        for ctx, rules in ((auditor, WRITES), (member, READS | WRITES),
                           (reader, READS | WRITES)):
            for rule in rules:
                self.assertRaises(exception.PolicyNotAuthorized,
                                  policy.enforce, ctx, rule)
        self.assertEqual(len(WRITES) + 2 * len(READS | WRITES),
                         len(self._denied()))

    def test_denial_is_audited(self):
        member = _ctx(['member'], project_id='p')
        err = self.assertRaises(exception.PolicyNotAuthorized,
                                policy.enforce, member,
                                'cryptkeeper:job:cancel',
                                resource_id='x' * 400)
        self.assertEqual(403, err.code)
        [rec] = self._denied()
        self.assertEqual(('job.cancel', 'denied', 'cryptkeeper:job:cancel',
                          'u', 'p', 'req-1', 'job'),
                         (rec.action, rec.outcome, rec.reason, rec.user_id,
                          rec.project_id, rec.request_id,
                          rec.resource_type))
        self.assertEqual(255, len(rec.resource_id))

    def test_domain_scope_is_refused_not_an_error(self):
        ctx = context.RequestContext(user_id='u', domain_id='d',
                                     roles=['admin'], overwrite=False)
        self.assertRaises(exception.PolicyNotAuthorized, policy.enforce,
                          ctx, 'cryptkeeper:job:create')

    def test_policy_file_overrides_defaults(self):
        path = self.useFixture(fixtures.TempDir()).path + '/p.yaml'
        with open(path, 'w') as f:
            f.write('"cryptkeeper:job:get_all": "role:member"\n')
        self.config(policy_file=path, group='oslo_policy')
        policy.reset()
        policy.enforce(_ctx(['member'], project_id='p'),
                       'cryptkeeper:job:get_all')

    def test_get_enforcer_ignores_generator_options(self):
        argv = ['oslopolicy-sample-generator', '--namespace', 'cryptkeeper',
                '--output-file=/tmp/x.yaml']
        with mock.patch.object(sys, 'argv', argv):
            enforcer = policy.get_enforcer()
        self.assertIn('cryptkeeper:job:create', enforcer.registered_rules)
