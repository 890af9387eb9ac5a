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

"""The census job: counts of rows and soft-deleted rows of one target."""

from cryptkeeper.common import exception
from cryptkeeper import conf
from cryptkeeper.conf import targets as target_conf
from cryptkeeper.purge import census
from cryptkeeper.worker import messages
from cryptkeeper.worker import targets

CONF = conf.CONF


def initial_progress():
    return {'tables_total': None, 'tables_done': 0, 'current_table': None}


def secrets(job):
    group = target_conf.get_target(CONF, job.target)
    return messages.url_secrets(group.connection if group else None)


def run(job, progress):
    """Run a census of the job's target; the target comes from the config."""
    group = target_conf.get_target(CONF, job.target)
    if group is None:
        raise exception.TargetNotFound(target=job.target)

    def on_table(done, total, name):
        progress.update(tables_total=total, tables_done=done,
                        current_table=name)
        # Between tables is a safe place to stop: nothing is half done.
        progress.check()

    engine = targets.target_engine(job.target, group.connection)
    try:
        return census.census(engine, target=job.target,
                             profile=group.profile,
                             statement_timeout=CONF.worker.statement_timeout,
                             on_table=on_table)
    finally:
        engine.dispose()
