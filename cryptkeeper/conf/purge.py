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

"""Options of the [purge] group: batches, archives, retention, locking."""

from oslo_config import cfg

purge_group = cfg.OptGroup('purge', title='Purge job options')

opts = [
    cfg.IntOpt('default_batch_size', default=500, min=1, max=10000,
               help='Root rows per batch when a purge job does not say. '
                    'A batch and its dependents are archived and deleted '
                    'in one bounded transaction.'),
    cfg.StrOpt('archive_connection', secret=True,
               help='SQLAlchemy URL of the archive database used by '
                    'purge jobs with backend "database", for targets '
                    'whose [target:NAME] group sets no '
                    'archive_connection of its own.'),
    cfg.StrOpt('archive_dir', default='$state_path/archive',
               help='Directory of the files archive (backend "files"): '
                    'compressed JSON Lines and one manifest per job.'),
    cfg.IntOpt('default_retention_days', default=90, min=0, max=36500,
               help='Days archived rows are kept before a purge job in '
                    'mode "purge" deletes them, when the job does not '
                    'say.'),
    cfg.FloatOpt('lock_wait', default=86400, min=0, max=7 * 86400,
                 help='Longest a purge job waits, in seconds, for another '
                      'purge job on the same target to finish before it '
                      'fails. Two purge jobs never run on one target at '
                      'once.'),
    cfg.FloatOpt('lock_poll', default=2.0, min=0.1, max=300,
                 help='Seconds between attempts at the per-target purge '
                      'lock while another job holds it.'),
    cfg.IntOpt('soft_deleted_warning_threshold', default=100000, min=0,
               max=2 ** 62,
               help='"cryptkeeper-status upgrade check" warns when the '
                    'latest succeeded census of a target counts more '
                    'soft-deleted rows than this. 0 warns on any.'),
]


def register_opts(conf):
    conf.register_group(purge_group)
    conf.register_opts(opts, group=purge_group)


def list_opts():
    return {purge_group: opts}
