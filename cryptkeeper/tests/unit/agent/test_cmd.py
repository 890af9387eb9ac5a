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

"""cryptkeeper-agent --once as a real process."""

import os
import signal
import subprocess
import time

from cryptkeeper.tests.local_fixtures import processes
from cryptkeeper.tests.unit.agent import helpers
from cryptkeeper.tests.unit.consolelog import helpers as cl_helpers

DATA = cl_helpers.lines(0, 40000)


class OnceTestCase(helpers.AgentTestCase):

    def write_config(self, endpoint=None, **agent):
        state = os.path.join(self.conf_fixture.state_path, 'agent-process')
        agent.setdefault('host', helpers.HOST)
        agent.setdefault('instances_path', self.root)
        agent.setdefault('ignore_pids', ','.join(map(str, self.ignore)))
        if endpoint is not None:
            agent['api_endpoint'] = endpoint
        lines = ['[DEFAULT]', 'state_path = %s' % state, '[agent]']
        lines += ['%s = %s' % kv for kv in agent.items()]
        path = os.path.join(self.conf_fixture.state_path, 'agent.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def run_agent(self, config, *args):
        proc = subprocess.run(
            processes.command('cryptkeeper-agent') + [
                '--config-file', config, *args],
            capture_output=True, text=True, timeout=120,
            env=processes.clean_env(), check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def test_once_sweeps_enforces_and_exits_zero(self):
        log = self.make_log(data=DATA)
        self.policy(mode='enforce')
        rc, out = self.run_agent(self.write_config(self.api.url), '--once')
        self.assertEqual(0, rc, out)
        self.assertLess(os.stat(log).st_blocks * 512, len(DATA))
        [rec] = self.audit('console_log.cut')
        self.assertEqual(cl_helpers.UUID, rec['resource_id'])
        agent = self.api.call('GET', '/v1/agents/%s' % helpers.HOST)
        self.assertTrue(agent['last_sweep']['complete'])

    def test_once_with_the_api_down_exits_one_and_touches_nothing(self):
        log = self.make_log(data=DATA)
        digest = cl_helpers.digest(log)
        # Nothing listens on a free port, so connecting is refused.
        config = self.write_config('http://127.0.0.1:%d'
                                   % processes.free_port())
        rc, out = self.run_agent(config, '--once')
        self.assertEqual(1, rc, out)
        self.assertIn('heartbeat to the API failed', out)
        self.assertEqual(digest, cl_helpers.digest(log))

    def test_runs_sweep_after_sweep_until_sigterm(self):
        self.make_log(data=DATA)
        config = self.write_config(self.api.url, interval=1)
        proc = subprocess.Popen(
            processes.command('cryptkeeper-agent') + ['--config-file',
                                                      config],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(proc.kill)
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            resp = self.api.call('GET', '/v1/agents/%s' % helpers.HOST,
                                 expect=None)
            if resp and resp.get('last_sweep'):
                seen.add(resp['last_sweep']['started_at'])
            time.sleep(0.1)
        self.assertEqual(2, len(seen), 'the agent did not sweep twice')
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        self.assertEqual(0, proc.returncode, out)
        self.assertIn('stopped', out)

    def test_no_way_to_the_api_exits_two(self):
        rc, out = self.run_agent(self.write_config(), '--once')
        self.assertEqual(2, rc, out)
        self.assertIn('No way to reach the API', out)
