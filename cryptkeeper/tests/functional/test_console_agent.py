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

"""The agent enforcing console-log policies under live writers, end to end.

Real writer processes (one appending like virtlogd, one without O_APPEND
like qemu's file chardev) write numbered lines at full speed while the
agent sweeps again and again: measure, fetch policies from the API, cut,
back up, report. The API is cryptkeeper's real WSGI app over HTTP on a
real SQLite database; the second class runs cryptkeeper-api and
cryptkeeper-agent as the processes a deployer starts.
"""

import os
import select
import shutil
import subprocess
import tempfile
import time

import requests

from cryptkeeper.consolelog import backup
from cryptkeeper.consolelog import truncate
from cryptkeeper.tests import base
from cryptkeeper.tests.local_fixtures import processes
from cryptkeeper.tests.unit.agent import helpers
from cryptkeeper.tests.unit.consolelog import helpers as cl_helpers

KiB = helpers.KiB
MiB = helpers.MiB
UUID = cl_helpers.UUID
# Slack on allocated size: collapse keeps up to one block minus a byte
# more than keep_bytes, punch-hole the partly kept block; one more block
# for the filesystem's rounding.
SLACK_BLOCKS = 2


class PausingWriter(cl_helpers.Writer):
    """The library tests' writer, with one pause half-way.

    The test sweeps while the writer holds the file open and idle, then
    lets it go on, so at least two cuts happen whatever the speed of the
    machine.
    """

    def __init__(self, path, append, count):
        super().__init__(path, append, count, pause=True)
        self.halfway = False

    def _line(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], 0)
        return self.proc.stdout.readline().strip() if ready else None

    def poll(self):
        """'half', 'done' or None (still writing)."""
        if self.result is not None:
            return 'done'
        line = self._line()
        if line == b'half':
            self.halfway = True
            return 'half'
        if line:
            total, offset = line.split()
            self.result = (int(total), int(offset))
            return 'done'
        return None


class LiveWritersTestCase(helpers.AgentTestCase):

    count = 400000

    def setUp(self):
        super().setUp()
        self.log = self.make_log()
        self.inst = os.path.dirname(self.log)

    def sweep_while_writing(self, append, pol):
        """Sweep until the writer is done, then once more.

        Returns (writer, [cut actions], [removed heads in cut order]).
        """
        writer = PausingWriter(self.log, append, self.count)
        self.addCleanup(writer.stop)
        agent = self.agent()
        cuts, removed, seen = [], [], set()
        state = None
        while True:
            state = writer.poll() or state
            self.assertTrue(agent.run_once())
            action = self.log_of()['last_action']
            if action and action['action'] == 'cut' and (
                    action['at'] not in seen):
                seen.add(action['at'])
                cuts.append(action)
                # Read each backup at once: later cuts may prune it.
                self.assertIsNotNone(action['backup'])
                removed.append(cl_helpers.gunzip(
                    os.path.join(self.inst, action['backup'])))
            self.assertNotEqual('error', (action or {}).get('action'),
                                action)
            if state == 'half':
                writer.go_on()
                state = 'writing'
            elif state == 'done':
                break
        return writer, cuts, removed

    def check(self, writer, cuts, removed, pol):
        total, offset = writer.result
        with open(self.log, 'rb') as f:
            data = f.read()
        st = os.stat(self.log)
        self.assertGreaterEqual(len(cuts), 2)
        # Allocated size within the policy after the last sweep.
        self.assertLessEqual(st.st_blocks * 512,
                             pol['max_bytes'] + SLACK_BLOCKS * st.st_blksize)
        # The last 100 KiB hold the newest lines, whole and in order.
        tail = data[-100 * KiB:].split(b'\n')[1:-1]
        numbers = [int(t.split(b' ')[0]) for t in tail]
        self.assertEqual(list(range(self.count - len(numbers), self.count)),
                         numbers)
        # No loss: the removed heads (each backup decompresses to exactly
        # what its cut removed) and the kept tail are every line written,
        # once, in order.
        for action, head in zip(cuts, removed, strict=True):
            self.assertEqual(action['bytes_removed'], len(head))
        self.assertEqual(cl_helpers.lines(0, self.count),
                         b''.join(cl_helpers.unmark(r) for r in removed)
                         + cl_helpers.unmark(data))
        # Every cut is in the audit log with its method and sizes.
        audited = self.audit('console_log.cut')
        self.assertEqual([c['at'] for c in cuts],
                         [r['details']['at'] for r in audited])
        self.assertEqual({'success'}, {r['outcome'] for r in audited})
        return data, st, total, offset

    def test_append_writer_like_virtlogd(self):
        pol = self.policy(mode='enforce', max_bytes=MiB,
                          keep_bytes=256 * KiB, backups=32)
        writer, cuts, removed = self.sweep_while_writing(True, pol)
        self.check(writer, cuts, removed, pol)
        self.assertEqual({truncate.COLLAPSE}, {c['method'] for c in cuts})
        self.assertTrue(all(c['holders'] for c in cuts[:-1]))
        self.assertEqual({0}, {c['bytes_at_risk'] for c in cuts})

    def test_plain_writer_like_qemu_file_chardev(self):
        pol = self.policy(mode='enforce', max_bytes=MiB,
                          keep_bytes=256 * KiB, backups=32)
        writer, cuts, removed = self.sweep_while_writing(False, pol)
        data, st, total, offset = self.check(writer, cuts, removed, pol)
        self.assertEqual({truncate.PUNCH}, {c['method'] for c in cuts})
        # The writer's offset is intact: where every byte it wrote ended,
        # and the file's size agrees.
        self.assertEqual(total, offset)
        self.assertEqual(total, st.st_size)
        # The hole ends at or before the last cut; the kept tail has none.
        fd = os.open(self.log, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        first_data = os.lseek(fd, 0, os.SEEK_DATA)
        self.assertLessEqual(first_data, cuts[-1]['cut_offset'])
        self.assertEqual(st.st_size, os.lseek(fd, first_data, os.SEEK_HOLE))

    def test_report_mode_under_a_live_writer_changes_nothing(self):
        self.policy(mode='report', max_bytes=256 * KiB, keep_bytes=64 * KiB,
                    backups=3)
        writer = cl_helpers.Writer(self.log, append=True, count=100000)
        self.addCleanup(writer.stop)
        total, _offset = writer.wait_finished()
        before = cl_helpers.tree(self.root)
        digest = cl_helpers.digest(self.log)
        agent = self.agent()
        for _ in range(3):
            self.assertTrue(agent.run_once())
        self.assertEqual(before, cl_helpers.tree(self.root))
        self.assertEqual(digest, cl_helpers.digest(self.log))
        self.assertEqual(cl_helpers.lines(0, 100000),
                         open(self.log, 'rb').read())
        action = self.log_of()['last_action']
        self.assertEqual(('planned', truncate.COLLAPSE),
                         (action['action'], action['method']))
        self.assertEqual([], [n for n in os.listdir(self.inst)
                              if backup.BACKUP_RE.match(n)])


class ProcessesTestCase(base.TestCase):
    """cryptkeeper-api and cryptkeeper-agent as separate processes."""

    def setUp(self):
        super().setUp()
        self.workdir = tempfile.mkdtemp(prefix='cryptkeeper-agent-')
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.root = os.path.join(self.workdir, 'instances')
        os.makedirs(self.root)
        self.port = processes.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.log_path = os.path.join(self.workdir, 'services.log')
        self.config = self._write_config()
        self._run(processes.command('cryptkeeper-manage') + [
            '--config-file', self.config, 'db', 'sync'])
        self._serve()

    def _write_config(self):
        ignore = ','.join(map(str, cl_helpers.unreadable_pids()))
        lines = ['[DEFAULT]', 'state_path = %s' % self.workdir,
                 '[database]',
                 'connection = sqlite:///%s/ck.sqlite' % self.workdir,
                 '[api]', 'auth_strategy = noauth', 'host = 127.0.0.1',
                 'port = %d' % self.port,
                 '[agent]', 'host = c01', 'instances_path = %s' % self.root,
                 'api_endpoint = %s' % self.url, 'interval = 1',
                 'ignore_pids = %s' % ignore]
        path = os.path.join(self.workdir, 'cryptkeeper.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def _run(self, cmd):
        with open(self.log_path, 'ab') as log:
            return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL,
                                  env=processes.clean_env(),
                                  timeout=300, check=False).returncode

    def _tail(self):
        with open(self.log_path, 'rb') as f:
            return f.read()[-4000:].decode(errors='replace')

    def _serve(self):
        self.api = processes.start(
            processes.command('cryptkeeper-api') + ['--config-file',
                                                    self.config],
            self.log_path)
        self.addCleanup(processes.stop, self.api)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.assertIsNone(self.api.poll(), self._tail())
            try:
                requests.get(self.url + '/', timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.fail('cryptkeeper-api did not start\n' + self._tail())

    def call(self, method, path, **kwargs):
        resp = requests.request(method, self.url + path, timeout=30,
                                **kwargs)
        self.assertLess(resp.status_code, 300, resp.text)
        return resp.json() if resp.content else None

    def test_agent_once_reports_then_enforces(self):
        data = cl_helpers.lines(0, 60000)
        log = os.path.join(cl_helpers.make_instance(self.root, UUID, data),
                           'console.log')
        pol = self.call('POST', '/v1/console-policies', json={
            'name': 'everyone', 'max_bytes': MiB, 'keep_bytes': 128 * KiB,
            'backups': 1})
        agent = processes.command('cryptkeeper-agent') + [
            '--config-file', self.config, '--once']
        self.assertEqual(0, self._run(agent), self._tail())
        # report mode, the default: decided, recorded, nothing changed.
        self.assertEqual(data, open(log, 'rb').read())
        shown = self.call('GET', '/v1/console-logs/%s' % UUID)
        self.assertEqual(('planned', 'everyone', 'c01'),
                         (shown['last_action']['action'], shown['policy'],
                          shown['host']))
        self.call('PATCH', '/v1/console-policies/%s' % pol['id'],
                  json={'mode': 'enforce'})
        self.assertEqual(0, self._run(agent), self._tail())
        shown = self.call('GET', '/v1/console-logs/%s' % UUID)
        self.assertEqual('cut', shown['last_action']['action'])
        st = os.stat(log)
        self.assertLessEqual(st.st_blocks * 512,
                             128 * KiB + SLACK_BLOCKS * st.st_blksize)
        head = cl_helpers.gunzip(os.path.join(
            self.root, UUID, shown['last_action']['backup']))
        self.assertEqual(data, head + data[len(head):])
        self.assertTrue(data.endswith(cl_helpers.unmark(open(log,
                                                             'rb').read())))
        actions = [r['action'] for r in self.call(
            'GET', '/v1/audit', params={'limit': 1000})['audit']]
        self.assertEqual(['console_policy.create', 'agent.heartbeat',
                          'console_log.plan', 'console_policy.update',
                          'console_log.cut'], actions)
        listed = self.call('GET', '/v1/console-logs',
                           params={'sort_key': 'allocated_bytes'})
        self.assertEqual([UUID], [c['instance']
                                  for c in listed['console_logs']])
