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

"""/v1/console-policies: create, list, show, update, delete, effective."""

from oslo_utils import uuidutils

from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.unit.api import base

MiB = 1 << 20
UUID = '6b1f7d52-3f0e-4a55-9d53-3c8a1b7e9f01'


def body(**kw):
    kw.setdefault('name', 'default')
    kw.setdefault('max_bytes', 10 * MiB)
    kw.setdefault('keep_bytes', MiB)
    return kw


class ConsolePolicyTestCase(base.APITestCase):

    def create(self, **kw):
        return self.app.post_json('/v1/console-policies', body(**kw),
                                  status=201).json

    def assertBadRequest(self, doc, fragment, method='post', url=None):
        before = (self.count(models.ConsolePolicy),
                  self.count(models.AuditRecord))
        call = getattr(self.app, '%s_json' % method)
        resp = call(url or '/v1/console-policies', doc, expect_errors=True)
        message = self.assertError(resp, 400)
        self.assertIn(fragment, message)
        self.assertEqual(before, (self.count(models.ConsolePolicy),
                                  self.count(models.AuditRecord)))
        return message

    def test_create_shows_defaults_location_and_audits(self):
        resp = self.app.post_json('/v1/console-policies', body(
            scope={'kind': 'host', 'value': 'c01'}), status=201)
        pol = resp.json
        self.assertTrue(uuidutils.is_uuid_like(pol['id']))
        self.assertEqual(
            {'name': 'default', 'scope': {'kind': 'host', 'value': 'c01'},
             'max_bytes': 10 * MiB, 'keep_bytes': MiB, 'backups': 0,
             'max_age_days': None, 'mode': 'report', 'enabled': True},
            {k: pol[k] for k in ('name', 'scope', 'max_bytes', 'keep_bytes',
                                 'backups', 'max_age_days', 'mode',
                                 'enabled')})
        self.assertEqual('http://localhost/v1/console-policies/%s'
                         % pol['id'], resp.headers['Location'])
        [rec] = self.audit()
        self.assertEqual(('console_policy.create', 'success',
                          'console_policy', pol['id']),
                         (rec.action, rec.outcome, rec.resource_type,
                          rec.resource_id))
        self.assertEqual({'kind': 'host', 'value': 'c01'},
                         rec.details['scope'])
        self.assertEqual('report', rec.details['mode'])

    def test_global_scope_is_the_default_and_has_no_value(self):
        pol = self.create()
        self.assertEqual({'kind': 'global', 'value': None}, pol['scope'])

    def test_list_show_by_id_and_name(self):
        a = self.create(name='a')
        self.create(name='b', scope={'kind': 'project', 'value': 'p1'})
        listed = self.app.get('/v1/console-policies').json
        self.assertEqual(['a', 'b'],
                         [p['name'] for p in listed['console_policies']])
        self.assertEqual(a, self.app.get('/v1/console-policies/%s'
                                         % a['id']).json)
        self.assertEqual(a, self.app.get('/v1/console-policies/a').json)
        resp = self.app.get('/v1/console-policies/nope', expect_errors=True)
        self.assertIn('could not be found', self.assertError(resp, 404))

    def test_list_filters_and_pages(self):
        for i in range(5):
            self.create(name='p%d' % i, mode='enforce' if i % 2 else 'report',
                        scope={'kind': 'host', 'value': 'h%d' % i})
        listed = self.app.get('/v1/console-policies?mode=enforce').json
        self.assertEqual(['p1', 'p3'],
                         [p['name'] for p in listed['console_policies']])
        listed = self.app.get(
            '/v1/console-policies?scope_kind=host&scope_value=h4').json
        self.assertEqual(['p4'],
                         [p['name'] for p in listed['console_policies']])
        seen, _urls = self.walk('/v1/console-policies?limit=2&sort_dir=desc',
                                'console_policies')
        self.assertEqual(['p4', 'p3', 'p2', 'p1', 'p0'],
                         [p['name'] for p in seen])
        resp = self.app.get('/v1/console-policies?scope_kind=cell',
                            expect_errors=True)
        self.assertIn('scope_kind must be one of', self.assertError(resp, 400))
        self.app.patch_json('/v1/console-policies/p2', {'enabled': False})
        listed = self.app.get('/v1/console-policies?enabled=false').json
        self.assertEqual(['p2'],
                         [p['name'] for p in listed['console_policies']])
        listed = self.app.get('/v1/console-policies?enabled=true').json
        self.assertEqual(4, len(listed['console_policies']))
        resp = self.app.get('/v1/console-policies?enabled=maybe',
                            expect_errors=True)
        self.assertIn('enabled must be true or false',
                      self.assertError(resp, 400))

    def test_validation(self):
        cases = [
            (body(keep_bytes=2 * MiB, max_bytes=MiB),
             'keep_bytes (2097152) must not exceed max_bytes (1048576)'),
            (body(max_bytes=0), 'max_bytes must be greater than zero'),
            (body(keep_bytes=-5), 'keep_bytes must be greater than zero'),
            (body(max_bytes='10M'), 'max_bytes must be an integer'),
            (body(max_bytes=True), 'max_bytes must be an integer'),
            (body(scope={'kind': 'cell', 'value': 'x'}),
             "unknown scope kind 'cell'"),
            (body(scope={'kind': 'project'}), "scope kind 'project' needs"),
            (body(scope={'kind': 'global', 'value': 'x'}),
             'a global scope takes no value'),
            (body(scope={'kind': 'instance', 'value': 'vm1'}),
             'is not a UUID'),
            (body(scope='global'), 'scope must be an object'),
            (body(mode='delete'), "unknown mode 'delete'"),
            (body(backups=33), 'backups must be an integer from 0 to 32'),
            (body(max_age_days=0), 'max_age_days must be an integer'),
            (body(enabled='yes'), 'enabled must be true or false'),
            (body(colour='red'), 'unknown field(s): colour'),
            (body(id=UUID), 'id cannot be set'),
            (body(name=UUID), 'must not look like a UUID'),
            (body(name='effective'), 'is reserved'),
            ({'name': 'x', 'max_bytes': MiB}, 'keep_bytes is required'),
        ]
        for doc, fragment in cases:
            self.assertBadRequest(doc, fragment)

    def test_duplicate_scope_is_400_and_names_the_holder(self):
        self.create(name='first')
        message = self.assertBadRequest(body(name='second'),
                                        'policy first already has scope '
                                        'global')
        self.assertIn('ambiguous', message)
        self.create(name='h', scope={'kind': 'host', 'value': 'c01'})
        self.assertBadRequest(
            body(name='h2', enabled=False,
                 scope={'kind': 'host', 'value': 'c01'}),
            'policy h already has scope host=c01')
        # The same value under another kind is another scope.
        self.create(name='p', scope={'kind': 'project', 'value': 'c01'})

    def test_duplicate_name_is_409(self):
        self.create(name='same')
        resp = self.app.post_json('/v1/console-policies', body(
            name='same', scope={'kind': 'host', 'value': 'c02'}),
            expect_errors=True)
        self.assertIn('already exists', self.assertError(resp, 409))

    def test_patch_changes_audits_and_keeps_the_rest(self):
        pol = self.create(backups=3, max_age_days=7)
        resp = self.app.patch_json('/v1/console-policies/%s' % pol['id'],
                                   {'mode': 'enforce', 'max_age_days': None,
                                    'scope': {'kind': 'project',
                                              'value': 'p1'}})
        new = resp.json
        self.assertEqual(
            ('enforce', None, 3, {'kind': 'project', 'value': 'p1'}),
            (new['mode'], new['max_age_days'], new['backups'],
             new['scope']))
        rec = self.audit()[-1]
        self.assertEqual('console_policy.update', rec.action)
        self.assertEqual({'mode': {'from': 'report', 'to': 'enforce'},
                          'max_age_days': {'from': 7, 'to': None},
                          'scope_kind': {'from': 'global', 'to': 'project'},
                          'scope_value': {'from': '', 'to': 'p1'}},
                         rec.details['changes'])
        # Patching by name; a patch that changes nothing writes nothing.
        before = len(self.audit())
        self.app.patch_json('/v1/console-policies/default',
                            {'mode': 'enforce'})
        self.assertEqual(before, len(self.audit()))

    def test_patch_validation(self):
        pol = self.create()
        self.create(name='other', scope={'kind': 'host', 'value': 'c01'})
        url = '/v1/console-policies/%s' % pol['id']
        self.assertBadRequest({'keep_bytes': 20 * MiB},
                              'must not exceed max_bytes', 'patch', url)
        self.assertBadRequest({'scope': {'kind': 'host', 'value': 'c01'}},
                              'policy other already has scope host=c01',
                              'patch', url)
        self.assertBadRequest({'created_by': 'me'}, 'cannot be set',
                              'patch', url)
        resp = self.app.patch_json('/v1/console-policies/nope',
                                   {'mode': 'enforce'}, expect_errors=True)
        self.assertError(resp, 404)

    def test_delete_is_204_and_audited_with_what_went(self):
        pol = self.create(mode='enforce')
        self.app.delete('/v1/console-policies/%s' % pol['id'], status=204)
        self.assertEqual([], self.app.get('/v1/console-policies').json[
            'console_policies'])
        rec = self.audit()[-1]
        self.assertEqual(('console_policy.delete', pol['id']),
                         (rec.action, rec.resource_id))
        self.assertEqual('enforce', rec.details['policy']['mode'])
        resp = self.app.delete('/v1/console-policies/%s' % pol['id'],
                               expect_errors=True)
        self.assertError(resp, 404)


class EffectiveTestCase(base.APITestCase):
    """Which policy applies: instance > host > project > global."""

    def setUp(self):
        super().setUp()
        for name, scope in (('g', {'kind': 'global'}),
                            ('proj', {'kind': 'project', 'value': 'p1'}),
                            ('host', {'kind': 'host', 'value': 'c01'}),
                            ('inst', {'kind': 'instance', 'value': UUID})):
            self.app.post_json('/v1/console-policies',
                               body(name=name, scope=scope), status=201)

    def effective(self, **params):
        params.setdefault('instance', UUID)
        return self.app.get('/v1/console-policies/effective',
                            params=params).json

    def test_precedence(self):
        self.assertEqual('inst', self.effective(project='p1',
                                                host='c01')['policy']['name'])
        other = '0c2bd5a4-8a7e-4f4e-b0b6-0d2b8f0d7e11'
        got = self.effective(instance=other, project='p1', host='c01')
        self.assertEqual('host', got['policy']['name'])
        self.assertIn("overrides 'proj' (project=p1), 'g' (global)",
                      got['why'])
        self.assertEqual('proj', self.effective(
            instance=other, project='p1', host='c02')['policy']['name'])
        got = self.effective(instance=other)
        self.assertEqual('g', got['policy']['name'])
        self.assertIn('project unknown', got['why'])

    def test_disabled_is_skipped_and_said(self):
        self.app.patch_json('/v1/console-policies/inst', {'enabled': False})
        got = self.effective(host='c01')
        self.assertEqual('host', got['policy']['name'])
        self.assertIn("disabled and skipped: 'inst'", got['why'])
        for name in ('g', 'host'):
            self.app.delete('/v1/console-policies/%s' % name, status=204)
        got = self.effective(host='c01')
        self.assertIsNone(got['policy'])
        self.assertIn('no enabled policy matches', got['why'])

    def test_project_and_host_from_the_reported_log(self):
        self.app.delete('/v1/console-policies/inst', status=204)
        self.app.post_json('/v1/agents/c01/console-logs', {
            'console_logs': [{'instance': UUID, 'host': 'c09',
                              'project': 'p1',
                              'measured_at': '2026-01-01T00:00:00Z'}]})
        got = self.effective()
        self.assertEqual(('proj', 'p1', 'c09'),
                         (got['policy']['name'], got['project'],
                          got['host']))
        self.assertEqual({'project': 'console log', 'host': 'console log'},
                         got['sources'])
        got = self.effective(host='c01')
        self.assertEqual('host', got['policy']['name'])
        self.assertEqual('request', got['sources']['host'])

    def test_bad_input(self):
        resp = self.app.get('/v1/console-policies/effective',
                            expect_errors=True)
        self.assertIn('instance is required', self.assertError(resp, 400))
        resp = self.app.get('/v1/console-policies/effective?instance=vm1',
                            expect_errors=True)
        self.assertIn('instance must be a UUID', self.assertError(resp, 400))
