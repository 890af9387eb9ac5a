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

"""Options of the [worker] group: job claiming, leases and polling."""

from oslo_config import cfg

worker_group = cfg.OptGroup('worker', title='Job worker options')

opts = [
    cfg.IntOpt('lease_time', default=60, min=5, max=3600,
               help='Seconds a claimed job stays leased to its worker '
                    'without a heartbeat. After that another worker takes '
                    'the job over.'),
    cfg.IntOpt('heartbeat_interval', default=10, min=1, max=600,
               help='Seconds between lease renewals of a running job. '
                    'Must be well below lease_time.'),
    cfg.FloatOpt('poll_interval', default=2.0, min=0.1, max=300,
                 help='Seconds an idle worker waits before looking for '
                      'pending jobs again.'),
    cfg.IntOpt('target_check_interval', default=60, min=5, max=86400,
               help='Seconds between reachability checks of the '
                    'configured targets.'),
    cfg.IntOpt('statement_timeout', default=300, min=1, max=86400,
               help='Longest a single read-only statement against a '
                    'target may run, in seconds, where the backend '
                    'supports a limit.'),
]


def register_opts(conf):
    conf.register_group(worker_group)
    conf.register_opts(opts, group=worker_group)


def list_opts():
    return {worker_group: opts}
