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

"""Agent sweeps on real files against the real API over HTTP."""

import json
import os

import fixtures

from cryptkeeper.agent import base as agent_base
from cryptkeeper.agent import client as agent_client
from cryptkeeper.agent import consolelog
from cryptkeeper.agent import service
from cryptkeeper.consolelog import backup
from cryptkeeper.tests.unit.agent import helpers
from cryptkeeper.tests.unit.consolelog import helpers as cl_helpers

KiB = helpers.KiB
MiB = helpers.MiB
UUID = cl_helpers.UUID
OTHER = cl_helpers.OTHER_UUID
PROJECT = '8f0a2b6c1d3e4f5a6b7c8d9e0f1a2b3c'
LIBVIRT_XML = ('<domain type="kvm"><metadata><nova:instance xmlns:nova='
               '"http://openstack.org/xmlns/libvirt/nova/1.1"><nova:owner>'
               '<nova:user uuid="u1">admin</nova:user><nova:project uuid="%s"'
               '>admin</nova:project></nova:owner></nova:instance>'
               '</metadata></domain>' % PROJECT)
DATA = cl_helpers.lines(0, 40000)


class SweepTestCase(helpers.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.log = self.make_log(UUID, DATA)

    def test_enforce_cuts_backs_up_and_reports_everything(self):
        self.policy(mode='enforce', backups=2)
        self.assertTrue(self.agent().run_once())
        st = os.stat(self.log)
        self.assertLessEqual(st.st_blocks * 512, 256 * KiB + 2 * st.st_blksize)
        with open(self.log, 'rb') as f:
            kept = f.read()
        self.assertTrue(DATA.endswith(cl_helpers.unmark(kept)))
        log = self.log_of()
        action = log['last_action']
        self.assertEqual(('cut', 'p-global', 'enforce', HOST_),
                         (action['action'], action['policy'],
                          action['mode'], log['host']))
        self.assertIn(action['method'], ('collapse_range', 'punch_hole'))
        [name] = [n for n in os.listdir(os.path.dirname(self.log))
                  if backup.BACKUP_RE.match(n)]
        self.assertEqual(name, action['backup'])
        removed = cl_helpers.gunzip(os.path.join(os.path.dirname(self.log),
                                                 name))
        self.assertEqual(DATA, removed + DATA[len(removed):])
        self.assertEqual(action['bytes_removed'], len(removed))
        self.assertEqual(st.st_blocks * 512, log['allocated_bytes'])
        [rec] = self.audit('console_log.cut')
        self.assertEqual(('success', UUID, action['method']),
                         (rec['outcome'], rec['resource_id'],
                          rec['details']['method']))
        self.assertEqual(len(removed), rec['details']['bytes_removed'])
        agent = self.api.call('GET', '/v1/agents/%s' % HOST_)
        summary = agent['last_sweep']['tasks']['consolelog']
        self.assertEqual((1, 1, {'cut': 1}, True),
                         (summary['console_logs'], summary['over_limit'],
                          summary['actions'], summary['complete']))

    def test_report_mode_changes_nothing_on_disk(self):
        self.policy(mode='report', backups=3)
        before = cl_helpers.tree(self.root)
        digest = cl_helpers.digest(self.log)
        agent = self.agent()
        for _ in range(2):
            self.assertTrue(agent.run_once())
        self.assertEqual(before, cl_helpers.tree(self.root))
        self.assertEqual(digest, cl_helpers.digest(self.log))
        action = self.log_of()['last_action']
        self.assertEqual(('planned', 'report'),
                         (action['action'], action['mode']))
        self.assertEqual(action['cut_offset'], action['bytes_removed'])
        # The same plan twice is one decision, audited once.
        self.assertEqual(1, len(self.audit('console_log.plan')))
        self.assertEqual([], self.audit('console_log.cut'))

    def test_scope_precedence_and_changes_apply_on_the_next_sweep(self):
        with open(os.path.join(os.path.dirname(self.log), 'libvirt.xml'),
                  'w') as f:
            f.write(LIBVIRT_XML)
        other = self.make_log(OTHER, DATA)
        self.policy(name='global', mode='report')
        self.policy(name='project', mode='enforce', keep_bytes=128 * KiB,
                    scope={'kind': 'project', 'value': PROJECT})
        inst = self.policy(name='instance', mode='report',
                           scope={'kind': 'instance', 'value': UUID})
        agent = self.agent()
        digest = cl_helpers.digest(self.log)
        self.assertTrue(agent.run_once())
        # The instance policy (report) beats the project one (enforce).
        self.assertEqual(digest, cl_helpers.digest(self.log))
        self.assertEqual('instance', self.log_of()['policy'])
        self.assertEqual('planned', self.log_of()['last_action']['action'])
        # The other instance has no project: the global report policy.
        self.assertEqual(DATA, open(other, 'rb').read())
        self.assertEqual('global', self.log_of(OTHER)['policy'])
        # Disable the instance policy: the project policy cuts next sweep.
        self.api.call('PATCH', '/v1/console-policies/%s' % inst['id'],
                      json={'enabled': False})
        self.assertTrue(agent.run_once())
        log = self.log_of()
        self.assertEqual(('project', 'cut'),
                         (log['policy'], log['last_action']['action']))
        self.assertEqual(PROJECT, log['project'])
        st = os.stat(self.log)
        self.assertLessEqual(st.st_blocks * 512, 128 * KiB + 2 * st.st_blksize)
        # A host policy for another host does not apply here.
        self.policy(name='elsewhere', mode='enforce',
                    scope={'kind': 'host', 'value': 'c99'})
        self.assertTrue(agent.run_once())
        self.assertEqual(DATA, open(other, 'rb').read())
        # One for this host does, over global.
        self.policy(name='here', mode='enforce',
                    scope={'kind': 'host', 'value': HOST_})
        self.assertTrue(agent.run_once())
        self.assertEqual('here', self.log_of(OTHER)['last_action']['policy'])
        self.assertNotEqual(DATA, open(other, 'rb').read())

    def test_no_policy_measures_only(self):
        before = cl_helpers.tree(self.root)
        self.assertTrue(self.agent().run_once())
        self.assertEqual(before, cl_helpers.tree(self.root))
        log = self.log_of()
        self.assertEqual((len(DATA), None, None),
                         (log['apparent_bytes'], log['policy'],
                          log['last_action']))

    def test_growth_and_runaway_across_sweeps(self):
        self.config(runaway_bytes_per_hour=1, group='agent')
        agent = self.agent()
        self.assertTrue(agent.run_once())
        log = self.log_of()
        self.assertEqual((None, False), (log['growth_bytes_per_hour'],
                                         log['runaway']))
        with open(self.log, 'ab') as f:
            f.write(cl_helpers.lines(40000, 41000))
        self.assertTrue(agent.run_once())
        log = self.log_of()
        self.assertGreater(log['growth_bytes_per_hour'], 0)
        self.assertTrue(log['runaway'])
        [rec] = self.audit('console_log.runaway')
        self.assertEqual(UUID, rec['resource_id'])
        self.assertIn('above 1 bytes/hour', rec['reason'])
        samples = json.load(open(os.path.join(
            agent.state_dir, consolelog.STATE_FILE)))['samples'][UUID]
        self.assertEqual(2, len(samples))

    def test_vanished_directory_is_forgotten_after_a_complete_sweep(self):
        self.make_log(OTHER, b'hello\n')
        agent = self.agent()
        self.assertTrue(agent.run_once())
        self.assertEqual(2, len(self.api.call(
            'GET', '/v1/console-logs')['console_logs']))
        os.unlink(os.path.join(self.root, OTHER, 'console.log'))
        os.rmdir(os.path.join(self.root, OTHER))
        self.assertTrue(agent.run_once())
        left = self.api.call('GET', '/v1/console-logs')['console_logs']
        self.assertEqual([UUID], [c['instance'] for c in left])
        [rec] = self.audit('console_log.forget')
        self.assertEqual([OTHER], rec['details']['instances'])

    def test_bad_entries_on_disk_are_reported_never_touched(self):
        self.policy(mode='enforce', max_bytes=4 * KiB, keep_bytes=KiB,
                    backups=1)
        secret = os.path.join(self.outside, 'secret')
        with open(secret, 'wb') as f:
            f.write(DATA)
        names = {}
        for i, kind in enumerate(('symlink', 'fifo', 'dir', 'dirlink')):
            inst = '00000000-0000-4000-8000-00000000000%d' % i
            names[inst] = kind
            path = os.path.join(self.root, inst)
            if kind == 'dirlink':
                os.symlink(self.outside, path)
                continue
            os.makedirs(path)
            log = os.path.join(path, 'console.log')
            if kind == 'symlink':
                os.symlink(secret, log)
            elif kind == 'fifo':
                os.mkfifo(log)
            else:
                os.mkdir(log)
        outside = cl_helpers.tree(self.outside)
        digest = cl_helpers.digest(secret)
        self.assertTrue(self.agent().run_once())
        self.assertEqual(outside, cl_helpers.tree(self.outside))
        self.assertEqual(digest, cl_helpers.digest(secret))
        for inst, kind in names.items():
            log = self.log_of(inst)
            self.assertFalse(log['present'], kind)
            self.assertNotEqual([], log['problems'], kind)
        self.assertIn('symlink', self.log_of(
            '00000000-0000-4000-8000-000000000000')['problems'][0])
        self.assertIn('not followed', self.log_of(
            '00000000-0000-4000-8000-000000000003')['problems'][0])
        # The real log is still enforced beside them.
        self.assertEqual('cut', self.log_of()['last_action']['action'])

    def test_log_deleted_mid_enforcement_is_refused_and_reported(self):
        self.policy(mode='enforce', backups=1)
        agent = self.agent()
        [task] = agent.tasks

        def vanish(stage):
            if stage == 'locked':
                os.unlink(self.log)

        task.checkpoint = vanish
        self.assertTrue(agent.run_once())
        action = self.log_of()['last_action']
        self.assertEqual('refused', action['action'])
        self.assertIn('removed during enforcement', action['reason'])
        [rec] = self.audit('console_log.cut')
        self.assertEqual('refused', rec['outcome'])
        self.assertEqual([], os.listdir(os.path.dirname(self.log)))


class TmpfsTestCase(helpers.AgentTestCase):
    """/dev/shm is tmpfs: no collapse-range there, so punch-hole."""

    def setUp(self):
        super().setUp()
        if not os.path.isdir('/dev/shm'):
            self.skipTest('no /dev/shm')
        self.root = self.useFixture(
            fixtures.TempDir(rootdir='/dev/shm')).path
        self.config(instances_path=self.root, group='agent')
        self.log = self.make_log(UUID, DATA)

    def test_falls_back_and_says_why(self):
        self.policy(mode='enforce')
        self.assertTrue(self.agent().run_once())
        action = self.log_of()['last_action']
        self.assertEqual(('cut', 'punch_hole'),
                         (action['action'], action['method']))
        self.assertIn('collapse_range not possible here', action['notes'][0])
        self.assertEqual(len(DATA), os.stat(self.log).st_size)


HOST_ = helpers.HOST


class FailureTestCase(helpers.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.log = self.make_log(UUID, DATA)

    def test_api_down_nothing_is_touched(self):
        self.policy(mode='enforce')
        agent = self.agent()
        self.api.server.shutdown()
        self.api.server.server_close()
        digest = cl_helpers.digest(self.log)
        self.assertFalse(agent.run_once())
        self.assertEqual(digest, cl_helpers.digest(self.log))

    def test_undelivered_cut_is_reported_on_the_next_sweep(self):
        self.policy(mode='enforce')
        agent = self.agent()
        [task] = agent.tasks
        real = agent.api.report_console_logs
        calls = []

        def failing(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise agent_client.ApiError('connection reset')
            return real(*args, **kwargs)

        agent.api.report_console_logs = failing
        self.assertFalse(agent.run_once())
        self.assertEqual([], self.audit('console_log.cut'))
        outbox = json.load(open(task.state_path))['outbox']
        self.assertEqual(['cut'], [e['action']['action'] for e in outbox])
        # The next sweep finds the log within limits, and still delivers
        # the cut of the sweep before.
        self.assertTrue(agent.run_once())
        [rec] = self.audit('console_log.cut')
        self.assertEqual(outbox[0]['action']['bytes_removed'],
                         rec['details']['bytes_removed'])
        self.assertEqual([], json.load(open(task.state_path))['outbox'])

    def test_failing_task_does_not_stop_the_others(self):

        class Broken(agent_base.Task):
            name = 'broken'

            def sweep(self, started_at):
                raise RuntimeError('disk on fire')

        agent = self.agent()
        agent.tasks.insert(0, Broken(agent.conf, agent.api, agent.host,
                                     agent.state_dir))
        self.make_log(OTHER, b'x\n')
        self.assertFalse(agent.run_once())
        sweep = self.api.call('GET', '/v1/agents/%s' % HOST_)['last_sweep']
        self.assertEqual((False, True), (sweep['complete'],
                                         sweep['console_logs_complete']))
        self.assertIn('disk on fire', sweep['tasks']['broken']['error'])
        self.assertEqual(2, len(self.api.call(
            'GET', '/v1/console-logs')['console_logs']))

    def test_incomplete_console_sweep_forgets_nothing(self):
        agent = self.agent()
        self.assertTrue(agent.run_once())
        self.config(instances_path=os.path.join(self.root, 'gone'),
                    group='agent')
        self.assertFalse(agent.run_once())
        sweep = self.api.call('GET', '/v1/agents/%s' % HOST_)['last_sweep']
        self.assertFalse(sweep['console_logs_complete'])
        self.assertIn('No such file', sweep['tasks']['consolelog']['error'])
        self.assertEqual(1, len(self.api.call(
            'GET', '/v1/console-logs')['console_logs']))

    def test_one_agent_per_host_at_a_time(self):
        first = self.agent()
        first.lock()
        self.addCleanup(first.unlock)
        self.assertRaises(service.AlreadyRunning, self.agent().run_once)

    def test_corrupt_state_is_set_aside(self):
        agent = self.agent()
        [task] = agent.tasks
        with open(task.state_path, 'w') as f:
            f.write('{not json')
        self.assertTrue(agent.run_once())
        self.assertTrue(os.path.exists(task.state_path + '.corrupt'))
        self.assertIn(UUID, json.load(open(task.state_path))['samples'])

    def test_no_endpoint_and_no_credentials_is_a_config_error(self):
        self.config(api_endpoint=None, group='agent')
        self.assertRaises(agent_client.ConfigError, service.Agent)


class SharedStorageTestCase(helpers.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.config(shared_storage=True, group='agent')
        self.log = self.make_log(UUID, DATA)

    def test_punch_only_and_no_host_without_a_local_holder(self):
        self.policy(mode='enforce')
        self.assertTrue(self.agent().run_once())
        log = self.log_of()
        self.assertIsNone(log['host'])
        self.assertEqual(('cut', 'punch_hole'),
                         (log['last_action']['action'],
                          log['last_action']['method']))
        self.assertEqual(len(DATA), os.stat(self.log).st_size)

    def test_local_writer_makes_it_ours(self):
        writer = cl_helpers.Writer(self.log, append=True, count=10)
        self.addCleanup(writer.stop)
        writer.wait_finished()
        self.assertTrue(self.agent().run_once())
        self.assertEqual(HOST_, self.log_of()['host'])
