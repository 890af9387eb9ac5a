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

"""/v1/schedules: create, list, show, patch, delete, bad input, policy."""

import datetime
from urllib import parse

from oslo_utils import timeutils
from oslo_utils import uuidutils

from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.unit.api import base

# A Sunday, 10:17 UTC.
NOW = datetime.datetime(2026, 11, 22, 10, 17, 42)


def body(name='nightly-nova', cron='30 2 * * *', **job):
    job.setdefault('target', 'nova')
    job.setdefault('params', {'mode': 'archive', 'older_than': 90})
    return {'name': name, 'cron': cron, 'job': job}


class ScheduleTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        timeutils.set_time_override(NOW)
        self.addCleanup(timeutils.clear_time_override)

    def counts(self):
        return (self.count(models.Schedule), self.count(models.Job),
                self.count(models.AuditRecord))

    def create(self, **kw):
        return self.app.post_json('/v1/schedules', body(**kw),
                                  status=201).json

    def url(self, schedule):
        return '/v1/schedules/%s' % schedule['id']


class CreateTestCase(ScheduleTestCase):

    def test_create_is_201_with_location_next_run_and_audit(self):
        resp = self.app.post_json('/v1/schedules', body(), status=201)
        got = resp.json
        self.assertTrue(uuidutils.is_uuid_like(got['id']))
        self.assertEqual('http://localhost/v1/schedules/%s' % got['id'],
                         resp.headers['Location'])
        self.assertEqual(
            {'name': 'nightly-nova', 'cron': '30 2 * * *', 'enabled': True,
             'job': {'type': 'purge', 'target': 'nova',
                     'params': {'mode': 'archive', 'older_than': 90}},
             'next_run_at': '2026-11-23T02:30:00+00:00',
             'last_run_at': None, 'last_job_id': None,
             'created_by': 'noauth'},
            {k: got[k] for k in ('name', 'cron', 'enabled', 'job',
                                 'next_run_at', 'last_run_at',
                                 'last_job_id', 'created_by')})
        [rec] = self.audit()
        self.assertEqual(('schedule.create', 'success', 'schedule',
                          got['id']),
                         (rec.action, rec.outcome, rec.resource_type,
                          rec.resource_id))
        self.assertEqual(resp.headers['x-openstack-request-id'],
                         rec.request_id)
        self.assertEqual({'name': 'nightly-nova', 'cron': '30 2 * * *',
                          'enabled': True,
                          'job': got['job'],
                          'next_run_at': '2026-11-23T02:30:00+00:00'},
                         rec.details)
        # A schedule creates no job until it fires.
        self.assertEqual(0, self.count(models.Job))

    def test_next_run_is_today_when_still_ahead(self):
        got = self.create(cron='45 10 * * *')
        self.assertEqual('2026-11-22T10:45:00+00:00', got['next_run_at'])

    def test_disabled_has_no_next_run(self):
        got = self.app.post_json('/v1/schedules',
                                 dict(body(), enabled=False),
                                 status=201).json
        self.assertFalse(got['enabled'])
        self.assertIsNone(got['next_run_at'])

    def test_job_type_defaults_to_purge_and_params_to_none(self):
        got = self.app.post_json(
            '/v1/schedules', {'name': 'plan', 'cron': '@Daily',
                              'job': {'target': 'demo'}}, status=201).json
        self.assertEqual({'type': 'purge', 'target': 'demo', 'params': {}},
                         got['job'])
        self.assertEqual('@daily', got['cron'])
        self.assertEqual('2026-11-23T00:00:00+00:00', got['next_run_at'])

    def test_cron_whitespace_normalised(self):
        got = self.create(cron=' 30  2 *\t* * ')
        self.assertEqual('30 2 * * *', got['cron'])

    def test_duplicate_name_is_409_and_nothing_written(self):
        self.create()
        before = self.counts()
        resp = self.app.post_json('/v1/schedules', body(cron='@hourly'),
                                  expect_errors=True)
        self.assertIn('nightly-nova already exists',
                      self.assertError(resp, 409))
        self.assertEqual(before, self.counts())


class BadInputTestCase(ScheduleTestCase):
    """Each case answers 400 with a message and writes nothing."""

    def setUp(self):
        super().setUp()
        self.before = self.counts()

    def assertRefused(self, doc, *words):
        resp = self.app.post_json('/v1/schedules', doc, expect_errors=True)
        message = self.assertError(resp, 400)
        for word in words:
            self.assertIn(word, message)
        self.assertEqual(self.before, self.counts())
        return message

    def test_name(self):
        self.assertRefused(dict(body(), name=None), 'name is required')
        self.assertRefused(dict(body(), name=''), 'name is required')
        self.assertRefused(dict(body(), name='  '), 'name is required')
        self.assertRefused(dict(body(), name=5), 'name is required')
        self.assertRefused(dict(body(), name='x' * 256),
                           'longer than 255')
        self.assertRefused(dict(body(), name=uuidutils.generate_uuid()),
                           'must not look like a UUID')
        doc = body()
        del doc['name']
        self.assertRefused(doc, 'name is required')

    def test_cron(self):
        self.assertRefused(body(cron='* * * *'), 'cron:', 'has 4 fields')
        self.assertRefused(body(cron='0 0 * * * 2026'), 'has 6 fields')
        self.assertRefused(body(cron='61 * * * *'), 'minute',
                           'between 0 and 59')
        self.assertRefused(body(cron='0 0 30 2 *'), 'never fires')
        self.assertRefused(body(cron='@reboot'), 'not supported')
        self.assertRefused(body(cron=5), 'must be a string')
        self.assertRefused(body(cron=None), 'cron is required')

    def test_enabled(self):
        self.assertRefused(dict(body(), enabled='yes'),
                           'enabled must be true or false')
        self.assertRefused(dict(body(), enabled=1),
                           'enabled must be true or false')

    def test_job(self):
        self.assertRefused(dict(body(), job=None), 'job is required')
        self.assertRefused(dict(body(), job='purge nova'),
                           'job is required')
        self.assertRefused(body(mode='archive'), 'job takes no field mode')
        self.assertRefused(body(type='census'), 'job type must be one of '
                           'purge')
        self.assertRefused(body(target=None), 'job target is required')
        self.assertRefused(body(target='nowhere'), 'target nowhere is not '
                           'configured')
        self.assertRefused(body(target='x' * 300), 'longer than 255')

    def test_params(self):
        self.assertRefused(body(params=[1]), 'params must be an object')
        self.assertRefused(body(params={'colour': 'red'}),
                           'take no parameter colour')
        self.assertRefused(body(params={'older_than': -1}), 'older_than',
                           'between 0 and 36500')
        self.assertRefused(body(params={'older_than': 'soon'}),
                           'older_than must be a number')
        self.assertRefused(body(params={'batch_size': 0}), 'batch_size')
        self.assertRefused(body(params={'batch_size': 10 ** 6}),
                           'batch_size')
        self.assertRefused(body(params={'window': '25:00-04:00'}),
                           'window')
        self.assertRefused(body(params={'window': 'nightly'}), 'window')
        self.assertRefused(body(params={'tables': ['shadow_instances']}),
                           'never purged')
        self.assertRefused(body(params={'tables': ['x; DROP TABLE y']}),
                           'not a table name')
        self.assertRefused(body(params={'mode': 'destroy'}), 'mode')
        self.assertRefused(body(params={'cells': 'all'}), 'cells')

    def test_modes_that_make_no_sense_repeated(self):
        self.assertRefused(
            body(params={'mode': 'restore',
                         'restore_job': uuidutils.generate_uuid()}),
            'mode must be one of plan, archive, purge, not restore')
        self.assertRefused(
            body(params={'before': '2026-01-01T00:00:00Z'}),
            'older_than, not before')

    def test_fields_the_service_keeps(self):
        for field in ('id', 'next_run_at', 'last_run_at', 'last_job_id',
                      'created_by', 'project_id', 'created_at'):
            self.assertRefused(dict(body(), **{field: 'x'}), field,
                               'cannot be set')
        self.assertRefused(dict(body(), colour='red'),
                           'no field colour')

    def test_body_not_an_object(self):
        for doc in ([body()], 'x', 5):
            resp = self.app.post_json('/v1/schedules', doc,
                                      expect_errors=True)
            self.assertError(resp, 400)
        resp = self.app.post('/v1/schedules', 'not json',
                             content_type='application/json',
                             expect_errors=True)
        self.assertError(resp, 400)
        resp = self.app.post('/v1/schedules', expect_errors=True)
        self.assertError(resp, 400)
        self.assertEqual(self.before, self.counts())

    def test_bad_queries(self):
        for query, word in (('limit=0', 'limit'), ('sort_key=cron',
                                                   'sort_key'),
                            ('sort_dir=up', 'sort_dir'),
                            ('enabled=maybe', 'enabled must be true'),
                            ('marker=abc', 'marker must be a UUID'),
                            ('marker=%s' % uuidutils.generate_uuid(),
                             'is not a schedule'),
                            ('name=%s' % ('n' * 256), 'longer than')):
            resp = self.app.get('/v1/schedules?' + query,
                                expect_errors=True)
            self.assertIn(word, self.assertError(resp, 400), query)

    def test_non_uuid_and_unknown_ids(self):
        for method in ('get', 'delete'):
            resp = getattr(self.app, method)('/v1/schedules/nightly',
                                             expect_errors=True)
            self.assertIn('must be a UUID', self.assertError(resp, 400))
            resp = getattr(self.app, method)(
                '/v1/schedules/%s' % uuidutils.generate_uuid(),
                expect_errors=True)
            self.assertIn('could not be found', self.assertError(resp, 404))
        resp = self.app.patch_json(
            '/v1/schedules/%s' % uuidutils.generate_uuid(),
            {'enabled': False}, expect_errors=True)
        self.assertError(resp, 404)
        self.assertEqual(self.before, self.counts())

    def test_post_to_an_item_is_405(self):
        resp = self.app.post_json('/v1/schedules/%s'
                                  % uuidutils.generate_uuid(), body(),
                                  expect_errors=True)
        self.assertError(resp, 405)


class ReadTestCase(ScheduleTestCase):

    def test_show(self):
        made = self.create()
        shown = self.app.get(self.url(made)).json
        self.assertEqual(made, shown)

    def test_fields_match_the_openapi_document(self):
        shown = self.app.get(self.url(self.create())).json
        schemas = self.app.get('/v1/openapi.json').json['components'][
            'schemas']
        self.assertLessEqual(set(schemas['Schedule']['required']),
                             set(shown))
        self.assertEqual(set(shown), set(schemas['Schedule']['properties']))
        self.assertEqual({'name', 'cron', 'enabled', 'job'},
                         set(schemas['ScheduleCreate']['properties']))
        self.assertEqual(set(schemas['ScheduleCreate']['properties']),
                         set(schemas['ScheduleUpdate']['properties']))

    def test_pages_follow_next_links(self):
        made = [self.create(name='s%d' % i)['id'] for i in range(5)]
        schedules, urls = self.walk('/v1/schedules?limit=2', 'schedules')
        self.assertEqual(made, [s['id'] for s in schedules])
        self.assertEqual(3, len(urls))

    def test_sort_by_name_desc_and_next_keeps_query(self):
        for name in ('b', 'c', 'a'):
            self.create(name=name)
        page = self.app.get('/v1/schedules?sort_key=name&sort_dir=desc&'
                            'limit=2').json
        self.assertEqual(['c', 'b'], [s['name'] for s in page['schedules']])
        query = dict(parse.parse_qsl(parse.urlsplit(page['next']).query))
        self.assertEqual({'sort_key': 'name', 'sort_dir': 'desc',
                          'limit': '2',
                          'marker': page['schedules'][1]['id']}, query)
        rest = self.app.get(page['next']).json
        self.assertEqual(['a'], [s['name'] for s in rest['schedules']])

    def test_filters(self):
        on = self.create(name='on')
        off = self.app.post_json('/v1/schedules',
                                 dict(body(name='off', target='demo'),
                                      enabled=False), status=201).json

        def ids(query):
            return [s['id'] for s in self.app.get(
                '/v1/schedules?' + query).json['schedules']]

        self.assertEqual([on['id']], ids('enabled=true'))
        self.assertEqual([off['id']], ids('enabled=false'))
        self.assertEqual([off['id']], ids('enabled=0'))
        self.assertEqual([off['id']], ids('target=demo'))
        self.assertEqual([on['id']], ids('name=on'))
        self.assertEqual([], ids('name=none'))
        self.assertEqual([on['id'], off['id']], ids(''))


class PatchTestCase(ScheduleTestCase):

    def setUp(self):
        super().setUp()
        self.made = self.create()

    def patch(self, doc, status=200):
        return self.app.patch_json(self.url(self.made), doc,
                                   status=status).json

    def updates(self):
        return [r for r in self.audit() if r.action == 'schedule.update']

    def test_new_cron_moves_the_next_run(self):
        got = self.patch({'cron': '0 */6 * * *'})
        self.assertEqual('0 */6 * * *', got['cron'])
        self.assertEqual('2026-11-22T12:00:00+00:00', got['next_run_at'])
        [rec] = self.updates()
        self.assertEqual(
            {'cron': {'from': '30 2 * * *', 'to': '0 */6 * * *'},
             'next_run_at': {'from': '2026-11-23T02:30:00+00:00',
                             'to': '2026-11-22T12:00:00+00:00'}},
            rec.details['changes'])
        self.assertEqual(self.made['id'], rec.resource_id)

    def test_rename_keeps_the_next_run(self):
        got = self.patch({'name': 'renamed'})
        self.assertEqual('renamed', got['name'])
        self.assertEqual(self.made['next_run_at'], got['next_run_at'])
        [rec] = self.updates()
        self.assertEqual({'name': {'from': 'nightly-nova',
                                   'to': 'renamed'}},
                         rec.details['changes'])

    def test_disable_then_enable(self):
        got = self.patch({'enabled': False})
        self.assertFalse(got['enabled'])
        self.assertIsNone(got['next_run_at'])
        timeutils.set_time_override(NOW + datetime.timedelta(days=3))
        got = self.patch({'enabled': True})
        self.assertTrue(got['enabled'])
        # Counted from when it was enabled again, not from before.
        self.assertEqual('2026-11-26T02:30:00+00:00', got['next_run_at'])
        self.assertEqual(2, len(self.updates()))

    def test_params_merge_and_null_removes(self):
        got = self.patch({'job': {'params': {'batch_size': 100,
                                             'older_than': None}}})
        self.assertEqual({'mode': 'archive', 'batch_size': 100},
                         got['job']['params'])
        self.assertEqual('nova', got['job']['target'])
        got = self.patch({'job': {'params': None}})
        self.assertEqual({}, got['job']['params'])
        self.assertEqual(2, len(self.updates()))

    def test_change_target(self):
        got = self.patch({'job': {'target': 'demo'}})
        self.assertEqual('demo', got['job']['target'])
        self.assertEqual({'target': {'from': 'nova', 'to': 'demo'}},
                         self.updates()[0].details['changes'])

    def test_no_change_writes_nothing(self):
        before = self.counts()
        got = self.patch({'name': 'nightly-nova', 'enabled': True,
                          'job': {'target': 'nova'}})
        self.assertEqual(self.made, got)
        self.patch({})
        self.assertEqual(before, self.counts())

    def test_bad_patches_are_400_and_change_nothing(self):
        before = self.counts()
        for doc, word in (
                ({'cron': '99 * * * *'}, 'minute'),
                ({'cron': None}, 'cron is required'),
                ({'name': None}, 'name is required'),
                ({'enabled': 'no'}, 'enabled must be true or false'),
                ({'job': None}, 'job is required'),
                ({'job': {'target': 'nowhere'}}, 'not configured'),
                ({'job': {'type': 'census'}}, 'job type'),
                ({'job': {'params': {'batch_size': -5}}}, 'batch_size'),
                ({'job': {'params': {'mode': 'restore'}}}, 'mode'),
                ({'next_run_at': '2030-01-01T00:00:00Z'}, 'cannot be set'),
                ({'id': uuidutils.generate_uuid()}, 'cannot be set'),
                ({'colour': 'red'}, 'no field colour')):
            resp = self.app.patch_json(self.url(self.made), doc,
                                       expect_errors=True)
            self.assertIn(word, self.assertError(resp, 400), doc)
        resp = self.app.patch_json(self.url(self.made), [{'op': 'replace'}],
                                   expect_errors=True)
        self.assertError(resp, 400)
        self.assertEqual(before, self.counts())
        self.assertEqual(self.made, self.app.get(self.url(self.made)).json)

    def test_rename_to_a_taken_name_is_409(self):
        self.create(name='other')
        resp = self.app.patch_json(self.url(self.made), {'name': 'other'},
                                   expect_errors=True)
        self.assertIn('other already exists', self.assertError(resp, 409))
        self.assertEqual('nightly-nova',
                         self.app.get(self.url(self.made)).json['name'])

    def test_target_gone_from_config_can_still_be_disabled(self):
        # The operator removed the target; the schedule must not be
        # stuck: it can be disabled, renamed and deleted.
        self.conf_fixture.set_targets(demo='sqlite:////tmp/demo.sqlite')
        got = self.patch({'enabled': False, 'name': 'was-nova'})
        self.assertFalse(got['enabled'])
        resp = self.app.patch_json(self.url(self.made),
                                   {'job': {'params': {'batch_size': 9}}},
                                   expect_errors=True)
        self.assertIn('target nova is not configured',
                      self.assertError(resp, 400))
        self.app.delete(self.url(self.made), status=204)


class DeleteTestCase(ScheduleTestCase):

    def test_delete_is_204_audited_with_what_was_deleted(self):
        made = self.create()
        resp = self.app.delete(self.url(made), status=204)
        self.assertEqual(b'', resp.body)
        self.app.get(self.url(made), status=404)
        rec = self.audit()[-1]
        self.assertEqual(('schedule.delete', 'success', made['id']),
                         (rec.action, rec.outcome, rec.resource_id))
        self.assertEqual(
            {'name': 'nightly-nova', 'cron': '30 2 * * *', 'enabled': True,
             'job_type': 'purge', 'target': 'nova',
             'params': {'mode': 'archive', 'older_than': 90}},
            rec.details['schedule'])
        resp = self.app.delete(self.url(made), expect_errors=True)
        self.assertError(resp, 404)
        self.assertEqual(0, self.count(models.Schedule))


class PolicyTestCase(ScheduleTestCase):

    def setUp(self):
        super().setUp()
        self.made = self.create()

    def _writes(self, headers):
        yield self.as_user.post_json('/v1/schedules', body(name='x'),
                                     headers=headers, expect_errors=True)
        yield self.as_user.patch_json(self.url(self.made),
                                      {'enabled': False}, headers=headers,
                                      expect_errors=True)
        yield self.as_user.delete(self.url(self.made), headers=headers,
                                  expect_errors=True)

    def test_only_admin_writes_and_denials_are_audited(self):
        before = self.count(models.Schedule)
        for persona in (base.MEMBER, base.PROJECT_READER,
                        base.SYSTEM_READER):
            for resp in self._writes(persona):
                self.assertIn('cryptkeeper:schedule:',
                              self.assertError(resp, 403))
        self.assertEqual(before, self.count(models.Schedule))
        self.assertEqual(self.made, self.app.get(self.url(self.made)).json)
        denied = [r for r in self.audit() if r.outcome == 'denied']
        self.assertEqual(9, len(denied))
        self.assertEqual({'schedule.create', 'schedule.update',
                          'schedule.delete'}, {r.action for r in denied})
        for resp in self._writes(base.ADMIN):
            self.assertIn(resp.status_int, (201, 200, 204))

    def test_reads(self):
        for persona in (base.MEMBER, base.PROJECT_READER):
            for path in ('/v1/schedules', self.url(self.made)):
                resp = self.as_user.get(path, headers=persona,
                                        expect_errors=True)
                self.assertError(resp, 403)
        for persona in (base.SYSTEM_READER, base.ADMIN):
            self.as_user.get('/v1/schedules', headers=persona, status=200)
            self.as_user.get(self.url(self.made), headers=persona,
                             status=200)

    def test_policy_comes_before_input_checks(self):
        resp = self.as_user.post_json('/v1/schedules', {'bad': 1},
                                      headers=base.MEMBER,
                                      expect_errors=True)
        self.assertError(resp, 403)
