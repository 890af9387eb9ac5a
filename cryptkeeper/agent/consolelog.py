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

"""The console-log task: measure, choose the policy, enforce, report."""

import datetime
import os

from oslo_log import log

from cryptkeeper.agent import base
from cryptkeeper.agent import state
from cryptkeeper.consolelog import measure
from cryptkeeper.consolelog import policy as cl_policy
from cryptkeeper.consolelog import truncate

LOG = log.getLogger(__name__)

STATE_FILE = 'consolelog.json'
# A sweep summary lists this many problems; the count is exact.
MAX_PROBLEMS = 20
# The library's Policy takes these fields of the API's representation.
_POLICY_FIELDS = ('name', 'scope', 'max_bytes', 'keep_bytes', 'backups',
                  'max_age_days', 'mode', 'enabled')


def _iso(ts):
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).isoformat()


def policies_from_api(items):
    """Library policies from the API's list; (policies, problems).

    A policy the library refuses (it should never happen: the API
    validated it) is left out and named, never guessed at.
    """
    policies, problems = [], []
    for item in items:
        try:
            policies.append(cl_policy.Policy.from_dict(
                {k: item[k] for k in _POLICY_FIELDS if k in item}))
        except (cl_policy.PolicyError, TypeError) as exc:
            problems.append('policy %s ignored: %s' % (item.get('name'),
                                                       exc))
    return policies, problems


class ConsoleLogTask(base.Task):
    """Keeps every instances/<uuid>/console.log within its policy."""

    name = 'consolelog'

    def __init__(self, conf, api, host, state_dir, checkpoint=None):
        super().__init__(conf, api, host, state_dir)
        self.state_path = os.path.join(state_dir, STATE_FILE)
        # Tests change the disk at exact points of an enforcement.
        self.checkpoint = checkpoint

    @property
    def opts(self):
        return self.conf.agent

    def info(self):
        return {'runaway_bytes_per_hour': self.opts.runaway_bytes_per_hour}

    # State: growth samples per instance, and actions not yet reported.

    def _load(self):
        data = state.load(self.state_path)
        samples = data.get('samples')
        outbox = data.get('outbox')
        return (samples if isinstance(samples, dict) else {},
                outbox if isinstance(outbox, list) else [])

    def _save(self, samples, outbox):
        state.save(self.state_path, {'version': 1, 'samples': samples,
                                     'outbox': outbox})

    @staticmethod
    def _previous(samples):
        previous = {}
        for instance, points in samples.items():
            try:
                previous[instance] = [measure.Sample(float(at), int(size))
                                      for at, size in points]
            except (TypeError, ValueError):
                continue
        return previous

    def _keep(self, points, now):
        window = self.opts.growth_window
        points = sorted(p for p in points if p[0] >= now - window)
        return points[-self.opts.samples_kept:]

    # The sweep.

    def _host_of(self, rec):
        """The host the instance runs on, as far as this agent can say."""
        if not self.opts.shared_storage:
            return self.host
        # On a share every host sees every directory; only a local
        # process holding the log says the instance runs here.
        if rec.holders and rec.holders.get('holders'):
            return self.host
        return None

    def _entry(self, rec, host):
        return {
            'instance': rec.instance, 'path': rec.path,
            'present': rec.exists, 'host': host, 'project': rec.project,
            'apparent_bytes': rec.apparent_bytes,
            'allocated_bytes': rec.allocated_bytes,
            'rotated_bytes': rec.rotated_allocated_bytes,
            'growth_bytes_per_hour': (
                None if rec.growth_bytes_per_hour is None
                else int(round(rec.growth_bytes_per_hour))),
            'runaway': rec.runaway, 'holders': rec.holders,
            'problems': list(rec.problems),
            'measured_at': _iso(rec.sampled_at),
        }

    def _enforce(self, rec, pol, now):
        res = truncate.enforce(
            self.opts.instances_path, rec.instance, pol, now=now,
            remote_writers_possible=self.opts.shared_storage,
            ignore_pids=tuple(self.opts.ignore_pids),
            checkpoint=self.checkpoint)
        if res.action == truncate.NONE:
            return res, None
        action = res.to_dict()
        action.pop('instance', None)
        action.pop('path', None)
        action['at'] = now.isoformat()
        return res, action

    def sweep(self, started_at):
        opts = self.opts
        items = self.api.console_policies(self.host)
        policies, problems = policies_from_api(items)
        samples, outbox = self._load()
        summary = {'console_logs': 0, 'over_limit': 0, 'runaway': 0,
                   'actions': {}, 'bytes_removed': 0, 'problems': 0}
        entries, seen = [], {}
        for rec in measure.scan(
                opts.instances_path, previous=self._previous(samples),
                runaway_bytes_per_hour=opts.runaway_bytes_per_hour,
                window=opts.growth_window, with_holders=True,
                ignore_pids=tuple(opts.ignore_pids)):
            summary['console_logs'] += 1
            host = self._host_of(rec)
            entry = self._entry(rec, host)
            points = []
            if rec.exists:
                points = [p for p in samples.get(rec.instance, [])
                          if isinstance(p, list) and len(p) == 2]
                points.append([rec.sampled_at, rec.apparent_bytes])
            chosen = cl_policy.select(policies, rec.instance,
                                      project_id=rec.project, host=host)
            pol = chosen.policy
            if rec.runaway:
                summary['runaway'] += 1
            if rec.problems:
                summary['problems'] += len(rec.problems)
                problems.extend('%s: %s' % (rec.instance, p)
                                for p in rec.problems)
            if rec.exists and pol is not None and (
                    rec.allocated_bytes > pol.max_bytes):
                summary['over_limit'] += 1
                now = datetime.datetime.now(datetime.timezone.utc)
                res, action = self._enforce(rec, pol, now)
                if action is not None:
                    entry['action'] = action
                    kind = action['action']
                    summary['actions'][kind] = (
                        summary['actions'].get(kind, 0) + 1)
                    LOG.info('Console log of %(inst)s: %(action)s by '
                             '%(method)s under policy %(policy)s: '
                             '%(reason)s',
                             {'inst': rec.instance, 'action': kind,
                              'method': res.method, 'policy': pol.name,
                              'reason': res.reason})
                if res.action == truncate.CUT:
                    summary['bytes_removed'] += res.bytes_removed
                    entry['apparent_bytes'] = res.apparent_after
                    entry['allocated_bytes'] = res.allocated_after
                    # The size right after the cut starts the next growth
                    # interval; a hair later, so it sorts after the
                    # sample it replaces.
                    points.append([now.timestamp() + 0.001,
                                   res.apparent_after])
                    # Kept until the API has it: a crash between the cut
                    # and the report must not lose the audit record.
                    outbox.append(entry)
                    self._save(samples, outbox)
            if points:
                seen[rec.instance] = self._keep(
                    points, points[-1][0])
            entries.append(entry)
        pending = [e for e in outbox if e not in entries]
        accepted, audited = self.api.report_console_logs(
            self.host, pending + entries, opts.runaway_bytes_per_hour,
            opts.report_batch_bytes)
        # Delivered: forget the outbox and the samples of vanished logs.
        self._save(seen, [])
        summary.update(accepted=accepted, audited=audited,
                       policies=len(policies), complete=True,
                       problem_list=problems[:MAX_PROBLEMS])
        return summary
