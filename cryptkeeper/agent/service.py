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

"""The agent's loop: a sweep every interval, or one sweep with --once.

A sweep heartbeats, runs every configured task in turn and heartbeats
again with the summary. A task that fails is reported and the others
still run; an API that cannot be reached ends the sweep before any task
acts, since a task must not act on policies it could not fetch.
"""

import datetime
import errno
import fcntl
import os
import signal
import threading
import time

from oslo_log import log

from cryptkeeper.agent import client as agent_client
from cryptkeeper.agent import consolelog
from cryptkeeper import conf

CONF = conf.CONF
LOG = log.getLogger(__name__)

# Tasks by their name in [agent] tasks; the image-cache task joins here.
TASKS = {consolelog.ConsoleLogTask.name: consolelog.ConsoleLogTask}


class AlreadyRunning(Exception):
    """Another agent with this configuration holds the lock."""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class Agent:
    """One agent: its host, its API client and its tasks."""

    def __init__(self, conf=CONF, api=None, tasks=None):
        self.conf = conf
        self.host = conf.agent.host or conf.host
        self.api = api or agent_client.Client.from_conf(conf)
        self.state_dir = os.path.join(conf.state_path, 'agent')
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        if tasks is None:
            tasks = [TASKS[name](conf, self.api, self.host, self.state_dir)
                     for name in conf.agent.tasks]
        self.tasks = tasks
        self._stop = threading.Event()
        self._lock_fd = None

    # Exclusion: one agent per configuration on a host.

    def lock(self):
        """Take the agent's lock file; raise AlreadyRunning if held."""
        lock_dir = self.conf.agent.lock_dir
        os.makedirs(lock_dir, mode=0o700, exist_ok=True)
        path = os.path.join(lock_dir, 'cryptkeeper-agent-%s.lock'
                            % self.host.replace(os.sep, '_'))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise AlreadyRunning(
                    'another cryptkeeper-agent for host %s holds %s'
                    % (self.host, path)) from None
            raise
        self._lock_fd = fd

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # Sweeps.

    def info(self):
        opts = self.conf.agent
        info = {'instances_path': opts.instances_path,
                'base_subdirectory': opts.base_subdirectory,
                'interval': opts.interval,
                'shared_storage': opts.shared_storage}
        for task in self.tasks:
            info.update(task.info())
        return info

    def sweep(self):
        """Run one sweep; return True when every task completed."""
        started = _utcnow()
        names = [t.name for t in self.tasks]
        try:
            self.api.heartbeat(self.host, names, self.info())
        except agent_client.ApiError as exc:
            LOG.error('Sweep skipped: heartbeat to the API failed: %s', exc)
            return False
        results, ok = {}, True
        for task in self.tasks:
            try:
                results[task.name] = task.sweep(started)
            except Exception as exc:
                ok = False
                results[task.name] = {'complete': False,
                                      'error': '%s: %s' % (
                                          type(exc).__name__, exc)}
                if isinstance(exc, (agent_client.ApiError, OSError)):
                    LOG.error('Task %s failed: %s', task.name, exc)
                else:
                    LOG.exception('Task %s failed', task.name)
        finished = _utcnow()
        console = results.get(consolelog.ConsoleLogTask.name, {})
        sweep = {'started_at': started.isoformat(),
                 'finished_at': finished.isoformat(),
                 'seconds': round((finished - started).total_seconds(), 3),
                 'complete': ok,
                 # Only a complete console-log pass lets the API forget
                 # the logs it did not see (their directories are gone).
                 'console_logs_complete': console.get('complete') is True,
                 'tasks': results}
        try:
            self.api.heartbeat(self.host, names, self.info(), sweep=sweep)
        except agent_client.ApiError as exc:
            LOG.error('Sweep summary not delivered: %s', exc)
            return False
        LOG.info('Sweep finished in %.1f s: %s', sweep['seconds'],
                 {k: {n: v for n, v in r.items() if n != 'problem_list'}
                  for k, r in results.items()})
        return ok

    def run_once(self):
        """``--once``: lock, one sweep, unlock; True when it completed."""
        self.lock()
        try:
            return self.sweep()
        finally:
            self.unlock()

    def stop(self):
        self._stop.set()

    def run(self, clock=time.monotonic):
        """Sweep every [agent] interval until SIGTERM or SIGINT."""
        def _signalled(signum, frame):
            LOG.info('Agent %s: signal %d, stopping after this sweep',
                     self.host, signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, _signalled)
        signal.signal(signal.SIGINT, _signalled)
        self.lock()
        LOG.info('Agent %s starting; tasks: %s; every %d s', self.host,
                 ', '.join(t.name for t in self.tasks),
                 self.conf.agent.interval)
        try:
            while not self._stop.is_set():
                began = clock()
                self.sweep()
                # Intervals are counted from start to start, so a slow
                # sweep does not push every later one back.
                delay = max(0.0, self.conf.agent.interval - (clock() - began))
                self._stop.wait(delay)
        finally:
            self.unlock()
            LOG.info('Agent %s stopped', self.host)
