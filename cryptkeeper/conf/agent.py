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

"""Options of the [agent] group: the compute-host agent."""

from oslo_config import cfg

agent_group = cfg.OptGroup('agent', title='Compute-host agent options')

# The periodic tasks an agent can run; the image-cache task joins later.
TASKS = ('consolelog',)

opts = [
    cfg.HostAddressOpt('host',
                       help='Name of this compute host as Nova knows it '
                            '(nova-compute\'s [DEFAULT] host). It names the '
                            'agent in the API, and host-scoped console-log '
                            'policies match it. Defaults to [DEFAULT] '
                            'host.'),
    cfg.StrOpt('instances_path',
               default='/var/lib/nova/instances',
               help='Nova\'s instances directory on this host (nova.conf '
                    '[DEFAULT] instances_path). The agent never leaves '
                    'it and never follows a symlink out of it.'),
    cfg.StrOpt('base_subdirectory',
               default='_base',
               help='Directory of cached base images below instances_path '
                    '(nova.conf [image_cache] subdirectory_name). It is '
                    'not an instance directory and is skipped by the '
                    'console-log task.'),
    cfg.IntOpt('interval', default=600, min=1, max=86400,
               help='Seconds between the starts of two sweeps. Each sweep '
                    'heartbeats, runs every task and reports to the API.'),
    cfg.ListOpt('tasks', default=list(TASKS),
                item_type=cfg.types.String(choices=TASKS),
                help='Periodic tasks this agent runs on every sweep.'),
    cfg.URIOpt('api_endpoint',
               schemes=['http', 'https'],
               help='URL of cryptkeeper-api. Unset means the endpoint of '
                    'service type "cleanup" from the Keystone catalog, '
                    'found with [service_credentials]. Set it, without '
                    '[service_credentials] auth_type, to talk plain HTTP '
                    'to an API running with [api] auth_strategy = noauth '
                    '(the local quickstart).'),
    cfg.IntOpt('api_timeout', default=60, min=1, max=3600,
               help='Seconds to wait for an answer from the API.'),
    cfg.IntOpt('report_batch_bytes', default=48 * 1024, min=4096,
               max=16 * 1024 * 1024,
               help='Largest JSON body of one console-log report, in '
                    'bytes; a sweep sends as many as it needs. Keep it '
                    'below the API\'s [api] max_request_body_size.'),
    cfg.ListOpt('ignore_pids', default=[],
                item_type=cfg.types.Integer(min=1, max=2 ** 22),
                help='Processes known not to write console logs that even '
                     'root cannot inspect in /proc (a container\'s init). '
                     'Any other process the agent cannot inspect makes it '
                     'assume an unseen writer and use only punch-hole, '
                     'which is safe for every writer.'),
    cfg.IntOpt('runaway_bytes_per_hour', default=100 * 1024 * 1024,
               min=1, max=2 ** 50,
               help='A console log growing faster than this, measured over '
                    'growth_window, is flagged as runaway in the API and '
                    'the audit log.'),
    cfg.IntOpt('growth_window', default=3600, min=60, max=7 * 86400,
               help='Seconds of recent size samples over which growth is '
                    'measured.'),
    cfg.IntOpt('samples_kept', default=12, min=2, max=1000,
               help='Size samples kept per console log in the agent\'s '
                    'state file, newest first; older ones are dropped even '
                    'inside growth_window.'),
    cfg.StrOpt('lock_dir',
               default='$state_path/lock',
               help='Directory of the agent\'s own lock file, which keeps '
                    'two agents with one configuration from sweeping at '
                    'once. Must be local to this host.'),
    cfg.BoolOpt('shared_storage', default=False,
                help='Whether instances_path is shared with other compute '
                     'hosts (NFS, CephFS). A writer on another host is '
                     'invisible here, so only punch-hole, which keeps every '
                     'writer\'s offset, is used; and a log that no local '
                     'process holds is not attributed to this host.'),
]

cli_opts = [
    cfg.BoolOpt('once', default=False,
                help='Run one sweep (heartbeat, measure, enforce, report) '
                     'and exit; the exit status is 0 when it completed.'),
]


def register_opts(conf):
    conf.register_group(agent_group)
    conf.register_opts(opts, group=agent_group)


def register_cli_opts(conf):
    """Only cryptkeeper-agent takes --once; other commands refuse it."""
    conf.register_cli_opts(cli_opts)


def list_opts():
    return {agent_group: opts}
