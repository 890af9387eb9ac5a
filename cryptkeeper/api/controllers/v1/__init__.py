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

"""Version 1 of the API: its root document and resources."""

import pecan
from pecan import rest
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import agent
from cryptkeeper.api.controllers.v1 import audit
from cryptkeeper.api.controllers.v1 import console_log
from cryptkeeper.api.controllers.v1 import console_policy
from cryptkeeper.api.controllers.v1 import job
from cryptkeeper.api.controllers.v1 import schedule
from cryptkeeper.api.controllers.v1 import target
from cryptkeeper.api import openapi
from cryptkeeper import conf

CONF = conf.CONF

RESOURCES = ('jobs', 'audit', 'targets', 'schedules', 'console-policies',
             'console-logs', 'agents')


class Resource(wtypes.Base):
    """A resource of the API and where to find it."""

    links = [link.Link]
    """Links to the collection."""


class V1(wtypes.Base):
    """The root document of v1."""

    id = wtypes.text
    """The version: v1."""

    links = [link.Link]
    """Links to this version and its description."""

    resources = {wtypes.text: Resource}
    """The resources of this version."""

    @classmethod
    def convert(cls):
        return cls(
            id='v1',
            links=[link.Link.make('self', 'v1'),
                   link.Link.make('describedby', 'v1', 'openapi.json')],
            resources={name: Resource(links=[link.Link.make(
                'self', 'v1', name)]) for name in RESOURCES})


class Controller(rest.RestController):
    """/v1"""

    _custom_actions = {'openapi.json': ['GET']}

    jobs = job.JobsController()
    audit = audit.AuditController()
    targets = target.TargetsController()
    schedules = schedule.SchedulesController()
    agents = agent.AgentsController()

    @wsme_pecan.wsexpose(V1)
    def get(self):
        # Public, like '/': clients discover the API before they
        # authenticate, so no policy applies.
        return V1.convert()

    @pecan.expose('json')
    def openapi_json(self):
        """/v1/openapi.json: public, the description of every route."""
        return openapi.document(
            link.base_url(), keystone=CONF.api.auth_strategy == 'keystone')


# A route name that is no Python identifier; the custom action above
# finds it by this name.
setattr(Controller, 'openapi.json', Controller.openapi_json)
# Collections whose names are no Python identifiers either.
setattr(Controller, 'console-policies',
        console_policy.ConsolePoliciesController())
setattr(Controller, 'console-logs', console_log.ConsoleLogsController())
