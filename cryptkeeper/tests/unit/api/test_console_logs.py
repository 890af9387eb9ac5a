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

"""Agent reports, /v1/console-logs and /v1/agents, and who may use them."""

from cryptkeeper.db.sqlalchemy import models
from cryptkeeper.tests.unit.api import base

MiB = 1 << 20
SERVICE = {'X-User-Id': 'agent-user', 'X-Project-Id': 'service',
           'X-Roles': 'service', 'X-Identity-Status': 'Confirmed'}


def uuid(i):
    return '00000000-0000-4000-8000-%012d' % i


def entry(i, **kw):
    kw.setdefault('instance', uuid(i))
    kw.setdefault('measured_at', '2026-03-01T12:00:%02dZ' % (i % 60))
    kw.setdefault('present', True)
    kw.setdefault('host', 'c01')
    kw.setdefault('project', 'p1')
    kw.setdefault('apparent_bytes', i * 1000)
    kw.setdefault('allocated_bytes', i * 1000)
    return kw


def cut(**kw):
    action = {'action': 'cut', 'policy': 'g', 'mode': 'enforce',
              'method': 'collapse_range', 'reason': 'no writer',
              'apparent_before': 5 * MiB, 'allocated_before': 5 * MiB,
              'apparent_after': MiB, 'allocated_after': MiB,
              'bytes_removed': 4 * MiB, 'bytes_at_risk': 0, 'backup': None}
    action.update(kw)
    return action


class ReportTestCase(base.APITestCase):

    def report(self, entries, host='c01', status=200, threshold=None,
               **kw):
        doc = {'console_logs': entries}
        if threshold is not None:
            doc['runaway_bytes_per_hour'] = threshold
        return self.app.post_json('/v1/agents/%s/console-logs' % host, doc,
                                  status=status, **kw)

    def actions(self):
        return [(r.action, r.outcome) for r in self.audit()]

    def test_report_stores_and_lists(self):
        resp = self.report([entry(1), entry(2, growth_bytes_per_hour=7)])
        self.assertEqual({'accepted': 2, 'audited': 0}, resp.json)
        logs = self.app.get('/v1/console-logs').json['console_logs']
        self.assertEqual([uuid(2), uuid(1)], [c['instance'] for c in logs])
        log = logs[0]
        self.assertEqual(
            ('c01', 'p1', 'c01', 2000, 2000, 7, False, None, None),
            (log['host'], log['project'], log['reported_by'],
             log['apparent_bytes'], log['allocated_bytes'],
             log['growth_bytes_per_hour'], log['runaway'], log['policy'],
             log['last_action']))
        self.assertIn('no enabled policy matches', log['policy_why'])
        self.assertTrue(log['measured_at'].startswith('2026-03-01T12:00:02'))
        one = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual(1000, one['apparent_bytes'])
        resp = self.app.get('/v1/console-logs/%s' % uuid(9),
                            expect_errors=True)
        self.assertError(resp, 404)
        # Measurements alone are not audited: they change every sweep.
        self.assertEqual([], self.actions())

    def test_policy_is_the_one_that_applies_now(self):
        self.report([entry(1)])
        self.app.post_json('/v1/console-policies', {
            'name': 'proj', 'max_bytes': MiB, 'keep_bytes': MiB,
            'scope': {'kind': 'project', 'value': 'p1'}}, status=201)
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual('proj', log['policy'])
        self.app.post_json('/v1/console-policies', {
            'name': 'host', 'max_bytes': MiB, 'keep_bytes': MiB,
            'scope': {'kind': 'host', 'value': 'c01'}}, status=201)
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual('host', log['policy'])
        self.assertIn("overrides 'proj'", log['policy_why'])

    def test_sorting_filtering_and_keyset_pages(self):
        entries = []
        for i in range(1, 8):
            growth = None if i in (3, 5) else (i % 4) * 100
            entries.append(entry(i, growth_bytes_per_hour=growth,
                                 allocated_bytes=(i % 3) * 4096,
                                 runaway=i in (2, 6),
                                 host='c01' if i < 5 else 'c02'))
        self.report(entries)

        def walk(query, limit):
            return self.walk('/v1/console-logs?limit=%d&%s' % (limit, query),
                             'console_logs')[0]

        by_growth = walk('sort_key=growth_bytes_per_hour', 2)
        growth = [c['growth_bytes_per_hour'] for c in by_growth]
        self.assertEqual([300, 200, 200, 100, 0, None, None], growth)
        self.assertEqual(7, len({c['instance'] for c in by_growth}))
        asc = walk('sort_key=growth_bytes_per_hour&sort_dir=asc', 3)
        self.assertEqual([c['instance'] for c in reversed(by_growth)],
                         [c['instance'] for c in asc])
        # The default: biggest allocation first, ties in a stable order.
        by_size = walk('', 2)
        sizes = [c['allocated_bytes'] for c in by_size]
        self.assertEqual(sorted(sizes, reverse=True), sizes)
        self.assertEqual(7, len({c['instance'] for c in by_size}))
        runaway = self.app.get('/v1/console-logs?runaway=true').json
        self.assertEqual({uuid(2), uuid(6)},
                         {c['instance'] for c in runaway['console_logs']})
        on_c02 = self.app.get('/v1/console-logs?host=c02&runaway=false').json
        self.assertEqual({uuid(5), uuid(7)},
                         {c['instance'] for c in on_c02['console_logs']})
        for query, fragment in (('sort_key=path', 'sort_key must be one of'),
                                ('marker=%s' % uuid(99), 'marker'),
                                ('marker=nope', 'marker must be a UUID'),
                                ('runaway=maybe', 'runaway')):
            resp = self.app.get('/v1/console-logs?' + query,
                                expect_errors=True)
            self.assertIn(fragment, self.assertError(resp, 400))

    def test_cut_is_always_audited_repeats_of_others_once(self):
        self.report([entry(1, action=cut())])
        self.report([entry(1, action=cut(bytes_removed=MiB))])
        plan = {'action': 'planned', 'policy': 'g', 'mode': 'report',
                'method': 'collapse_range', 'reason': 'no writer',
                'bytes_removed': 3}
        self.report([entry(1, action=plan)])
        self.report([entry(1, action=dict(plan, bytes_removed=9))])
        refused = {'action': 'refused', 'policy': 'g', 'mode': 'enforce',
                   'reason': 'console.log is a FIFO; not touched'}
        self.report([entry(1, action=refused)])
        self.report([entry(1, action=refused)])
        self.report([entry(1, action=dict(refused, reason='other'))])
        self.report([entry(1, action={'action': 'error', 'error': 'EIO',
                                      'reason': 'boom'})])
        self.assertEqual([('console_log.cut', 'success'),
                          ('console_log.cut', 'success'),
                          ('console_log.plan', 'success'),
                          ('console_log.cut', 'refused'),
                          ('console_log.cut', 'refused'),
                          ('console_log.cut', 'failure')], self.actions())
        first = self.audit()[0]
        self.assertEqual(('console_log', uuid(1), 'no writer'),
                         (first.resource_type, first.resource_id,
                          first.reason))
        self.assertEqual(4 * MiB, first.details['bytes_removed'])
        self.assertEqual(('collapse_range', 'c01', 'p1', 'c01'),
                         (first.details['method'], first.details['host'],
                          first.details['project'],
                          first.details['reported_by']))
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual('error', log['last_action']['action'])
        # "Within limits" keeps the last real decision on show.
        self.report([entry(1)])
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual('error', log['last_action']['action'])

    def test_runaway_flag_changes_are_audited(self):
        self.report([entry(1, runaway=True, growth_bytes_per_hour=10 ** 9)],
                    threshold=10 ** 8)
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertTrue(log['runaway'])
        self.assertIsNotNone(log['runaway_since'])
        self.report([entry(1, runaway=True, growth_bytes_per_hour=10 ** 9)])
        self.report([entry(1, runaway=False, growth_bytes_per_hour=5)])
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertIsNone(log['runaway_since'])
        flagged, cleared = self.audit()
        self.assertEqual(('console_log.runaway', uuid(1)),
                         (flagged.action, flagged.resource_id))
        self.assertEqual('growing 1000000000 bytes/hour, above 100000000 '
                         'bytes/hour', flagged.reason)
        self.assertEqual('console_log.runaway_cleared', cleared.action)

    def test_unknown_host_or_project_keeps_the_known_one(self):
        self.report([entry(1, host='c07', project='p9')])
        self.report([entry(1, host=None, project=None)], host='c08')
        log = self.app.get('/v1/console-logs/%s' % uuid(1)).json
        self.assertEqual(('c07', 'p9', 'c08'),
                         (log['host'], log['project'], log['reported_by']))

    def test_bad_reports_are_400_and_store_nothing(self):
        bad = [
            ({'console_logs': 'x'}, 'console_logs must be a list'),
            ({'console_logs': [], 'extra': 1}, 'the report has no field'),
            ({'console_logs': [entry(1, instance='vm')]},
             'console_logs[0]: instance must be a UUID'),
            ({'console_logs': [{'instance': uuid(1)}]},
             'measured_at is required'),
            ({'console_logs': [entry(1, measured_at='yesterday')]},
             'ISO 8601'),
            ({'console_logs': [entry(1, apparent_bytes=-1)]},
             'apparent_bytes must be a non-negative integer'),
            ({'console_logs': [entry(1, runaway='yes')]},
             'runaway must be true or false'),
            ({'console_logs': [entry(1, colour=1)]}, 'has no field colour'),
            ({'console_logs': [entry(1, action={'action': 'delete'})]},
             'action.action must be one of'),
            ({'console_logs': [entry(1, action=cut(rm='-rf'))]},
             'action has no field rm'),
            ({'console_logs': [entry(1, problems='x')]},
             'problems must be a list of strings'),
        ]
        for doc, fragment in bad:
            resp = self.app.post_json('/v1/agents/c01/console-logs', doc,
                                      expect_errors=True)
            self.assertIn(fragment, self.assertError(resp, 400))
        self.assertEqual((0, 0), (self.count(models.ConsoleLog),
                                  self.count(models.AuditRecord)))


class AgentTestCase(base.APITestCase):

    def beat(self, host='c01', status=200, **kw):
        kw.setdefault('tasks', ['consolelog'])
        kw.setdefault('info', {'interval': 600})
        kw.setdefault('version', '1.0')
        return self.app.post_json('/v1/agents/%s/heartbeat' % host, kw,
                                  status=status)

    def test_first_heartbeat_and_changes_are_audited_repeats_not(self):
        agent = self.beat().json
        self.assertEqual(('c01', ['consolelog'], True),
                         (agent['host'], agent['tasks'], agent['up']))
        self.beat()
        self.beat(info={'interval': 60})
        first, change = self.audit()
        self.assertEqual(('agent.heartbeat', 'agent', 'c01', True),
                         (first.action, first.resource_type,
                          first.resource_id, first.details['new']))
        self.assertEqual({'info': {'from': {'interval': 600},
                                   'to': {'interval': 60}}},
                         change.details['changes'])
        listed = self.app.get('/v1/agents').json['agents']
        self.assertEqual(['c01'], [a['host'] for a in listed])
        self.assertEqual(60, self.app.get('/v1/agents/c01').json['info'][
            'interval'])
        resp = self.app.get('/v1/agents/c99', expect_errors=True)
        self.assertError(resp, 404)

    def test_complete_sweep_forgets_logs_it_did_not_see(self):
        self.beat()
        self.app.post_json('/v1/agents/c01/console-logs', {'console_logs': [
            entry(1, measured_at='2026-03-01T11:00:00Z'),
            entry(2, measured_at='2026-03-01T12:00:05Z')]})
        self.app.post_json('/v1/agents/c02/console-logs', {'console_logs': [
            entry(3, measured_at='2026-03-01T11:00:00Z')]})
        sweep = {'started_at': '2026-03-01T12:00:00+00:00',
                 'console_logs_complete': False}
        self.beat(sweep=sweep)
        self.assertEqual(3, self.count(models.ConsoleLog))
        resp = self.beat(sweep=dict(sweep, console_logs_complete=True))
        self.assertEqual('1', resp.headers['X-Console-Logs-Forgotten'])
        left = self.app.get('/v1/console-logs').json['console_logs']
        self.assertEqual({uuid(2), uuid(3)}, {c['instance'] for c in left})
        rec = self.audit()[-1]
        self.assertEqual(('console_log.forget', 'c01', [uuid(1)]),
                         (rec.action, rec.resource_id,
                          rec.details['instances']))
        self.assertEqual(sweep['started_at'], resp.json['last_sweep'][
            'started_at'])

    def test_agent_routes_fetch_policies(self):
        self.app.post_json('/v1/console-policies', {
            'name': 'g', 'max_bytes': MiB, 'keep_bytes': MiB,
            'enabled': False}, status=201)
        got = self.app.get('/v1/agents/c01/console-policies').json
        self.assertEqual(['g'], [p['name'] for p in got['console_policies']])

    def test_bad_heartbeats(self):
        for doc, fragment in (({'tasks': 'x'}, 'tasks must be a list'),
                              ({'info': []}, 'info must be an object'),
                              ({'pid': 1}, 'has no field pid'),
                              ({'sweep': 3}, 'sweep must be an object')):
            resp = self.app.post_json('/v1/agents/c01/heartbeat', doc,
                                      expect_errors=True)
            self.assertIn(fragment, self.assertError(resp, 400))
        resp = self.app.post_json('/v1/agents/%20/heartbeat', {},
                                  expect_errors=True)
        self.assertIn('host must be', self.assertError(resp, 400))


class RBACTestCase(base.APITestCase):
    """Agents report with the service role; nobody else but admin."""

    AGENT_CALLS = (('post', '/v1/agents/c01/heartbeat', {}),
                   ('get', '/v1/agents/c01/console-policies', None),
                   ('post', '/v1/agents/c01/console-logs',
                    {'console_logs': [entry(1)]}))

    def call(self, method, path, doc, headers):
        if method == 'post':
            return self.as_user.post_json(path, doc, headers=headers,
                                          expect_errors=True)
        return self.as_user.get(path, headers=headers, expect_errors=True)

    def test_service_role_may_report(self):
        for method, path, doc in self.AGENT_CALLS:
            resp = self.call(method, path, doc, SERVICE)
            self.assertEqual(200, resp.status_int, resp.text)

    def test_others_may_not_report(self):
        for persona in (base.MEMBER, base.PROJECT_READER,
                        base.SYSTEM_READER):
            for method, path, doc in self.AGENT_CALLS:
                if persona is base.SYSTEM_READER and method == 'get':
                    # The auditor may see what the agents are given.
                    self.assertEqual(200, self.call(
                        method, path, doc, persona).status_int)
                    continue
                resp = self.call(method, path, doc, persona)
                self.assertIn('cryptkeeper:agent:',
                              self.assertError(resp, 403))
        self.assertEqual((0, 0), (self.count(models.ConsoleLog),
                                  self.count(models.Agent)))

    def test_service_role_reads_and_writes_nothing_else(self):
        for path in ('/v1/console-logs', '/v1/console-policies',
                     '/v1/agents', '/v1/audit', '/v1/jobs'):
            resp = self.as_user.get(path, headers=SERVICE,
                                    expect_errors=True)
            self.assertError(resp, 403)
        resp = self.as_user.post_json(
            '/v1/console-policies', {'name': 'x', 'max_bytes': 1,
                                     'keep_bytes': 1},
            headers=SERVICE, expect_errors=True)
        self.assertError(resp, 403)

    def test_readers_read_admins_write(self):
        for path in ('/v1/console-logs', '/v1/console-policies',
                     '/v1/agents', '/v1/agents/c01/console-policies'):
            self.as_user.get(path, headers=base.SYSTEM_READER, status=200)
            resp = self.as_user.get(path, headers=base.MEMBER,
                                    expect_errors=True)
            self.assertError(resp, 403)
        resp = self.as_user.post_json(
            '/v1/console-policies', {'name': 'x', 'max_bytes': 1,
                                     'keep_bytes': 1},
            headers=base.SYSTEM_READER, expect_errors=True)
        self.assertError(resp, 403)
        self.as_user.post_json(
            '/v1/console-policies', {'name': 'x', 'max_bytes': 1,
                                     'keep_bytes': 1},
            headers=base.ADMIN, status=201)
