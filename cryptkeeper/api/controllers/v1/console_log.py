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

"""Console logs: what the agents measured and did, per instance."""

import datetime

import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import console_policy
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper.db import api as db_api


class ConsoleLog(base.APIBase):
    """One instance's console log, as its agent last saw it."""

    _fields = ('instance', 'host', 'project', 'reported_by', 'path',
               'apparent_bytes', 'allocated_bytes', 'rotated_bytes',
               'growth_bytes_per_hour')

    instance = wtypes.text
    """UUID of the instance."""

    host = wtypes.text
    """The compute host the instance runs on; null when unknown (shared
    storage, and no local process holds the log)."""

    project = wtypes.text
    """Owner project, from nova:owner in libvirt.xml; null if unknown."""

    reported_by = wtypes.text
    """Host of the agent that last measured the log."""

    path = wtypes.text
    """Path of console.log on that host."""

    present = bool
    """Whether console.log exists as a regular file."""

    apparent_bytes = int
    """Size of the log (st_size)."""

    allocated_bytes = int
    """Disk space the log takes (st_blocks * 512); what policies limit."""

    rotated_bytes = int
    """Disk space of rotated siblings and cryptkeeper's backups."""

    growth_bytes_per_hour = int
    """Growth over the agent's recent samples; null until it has two."""

    runaway = bool
    """Whether growth is above the agent's runaway threshold."""

    runaway_since = datetime.datetime
    """When the log was first flagged runaway (UTC); null if it is not."""

    holders = types.jsondict
    """Local processes holding the log open, with their open flags."""

    problems = [wtypes.text]
    """What the agent could not measure or refused to touch."""

    measured_at = datetime.datetime
    """When the agent measured the log (UTC, the agent's clock)."""

    last_action = types.jsondict
    """The last decision of the agent on this log that was not "within
    limits": cut, planned (report mode), refused, skipped or error, with
    the method, sizes before and after and bytes at risk."""

    last_action_at = datetime.datetime
    """When that decision was reported (UTC)."""

    policy = wtypes.text
    """Name of the policy that applies now; null when none does."""

    policy_why = wtypes.text
    """Why that policy (or none) applies."""

    links = [link.Link]
    """Links to the console log."""

    @classmethod
    def convert(cls, row, choose):
        """:param choose: console_policy.selector() of every policy."""
        chosen, why = choose(row.instance, project=row.project,
                             host=row.host)
        return cls.from_row(
            row, present=bool(row.present), runaway=bool(row.runaway),
            runaway_since=types.utc(row.runaway_since),
            holders=row.holders or {}, problems=row.problems or [],
            measured_at=types.utc(row.measured_at),
            last_action=row.last_action or None,
            last_action_at=types.utc(row.last_action_at),
            policy=chosen.name if chosen is not None else None,
            policy_why=why,
            links=[link.Link.make('self', 'v1', 'console-logs',
                                  row.instance)])


class ConsoleLogCollection(collection.Collection):
    """A page of console logs."""

    _items = 'console_logs'

    console_logs = [ConsoleLog]
    """The console logs of this page."""


class ConsoleLogsController(base.ResourceController):
    """/v1/console-logs"""

    @wsme_pecan.wsexpose(ConsoleLogCollection, wtypes.text, wtypes.text,
                         wtypes.text, wtypes.text, int, wtypes.text,
                         wtypes.text, wtypes.text)
    def get_all(self, host=None, project=None, reported_by=None,
                runaway=None, limit=None, marker=None,
                sort_key='allocated_bytes', sort_dir='desc'):
        policy.enforce(pecan.request.context,
                       'cryptkeeper:console_log:get_all')
        filters = {'host': utils.validate_string('host', host),
                   'project': utils.validate_string('project', project),
                   'reported_by': utils.validate_string('reported_by',
                                                        reported_by),
                   'runaway': utils.parse_bool('runaway', runaway)}
        dbapi = pecan.request.dbapi
        limit, rows = collection.fetch(
            dbapi.list_console_logs, limit, marker, sort_key, sort_dir,
            db_api.CONSOLE_LOG_SORT_KEYS, exception.ConsoleLogNotFound,
            'a reported console log', filters=filters)
        choose = console_policy.selector(dbapi.list_console_policies())
        items = [ConsoleLog.convert(r, choose) for r in rows]
        return ConsoleLogCollection.page(items, limit, 'console-logs',
                                         lambda c: c.instance)

    @wsme_pecan.wsexpose(ConsoleLog, wtypes.text)
    def get_one(self, instance):
        policy.enforce(pecan.request.context,
                       'cryptkeeper:console_log:get', resource_id=instance)
        utils.validate_uuid('instance', instance)
        dbapi = pecan.request.dbapi
        row = dbapi.get_console_log(instance)
        return ConsoleLog.convert(
            row, console_policy.selector(dbapi.list_console_policies()))
