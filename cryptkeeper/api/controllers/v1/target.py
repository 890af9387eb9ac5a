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

"""Targets: the databases named in the configuration file."""

import datetime

import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper.common import utils as common_utils
from cryptkeeper import conf
from cryptkeeper.conf import targets

CONF = conf.CONF

TARGET_SORT_KEYS = ('name', 'profile')


class Target(base.APIBase):
    """A configured target, its password never shown."""

    name = wtypes.text
    """Name of the target in the configuration file."""

    profile = wtypes.text
    """Schema profile: nova, nova_api, cinder, glance, heat or generic."""

    connection = wtypes.text
    """Database URL with the password masked."""

    api_target = wtypes.text
    """For a nova cell: the nova_api target holding its API database."""

    reachable = bool
    """Whether a worker last reached it; null if never checked."""

    checked_at = datetime.datetime
    """When a worker last checked it (UTC)."""

    error = wtypes.text
    """Why a worker could not reach it."""

    links = [link.Link]
    """Links to the target."""

    @classmethod
    def convert(cls, name, group, state):
        return cls(
            name=name, profile=group.profile,
            connection=common_utils.redact_url(group.connection),
            api_target=group.api_target,
            reachable=state.reachable if state else None,
            checked_at=types.utc(state.checked_at) if state else None,
            error=state.error if state else None,
            links=[link.Link.make('self', 'v1', 'targets', name)])


class TargetCollection(collection.Collection):
    """A page of targets."""

    _items = 'targets'

    targets = [Target]
    """The targets of this page."""


def _group(name):
    group = targets.get_target(CONF, name)
    if group is None:
        raise exception.TargetNotFound(target=name)
    return group


class TargetsController(base.ResourceController):
    """/v1/targets: read-only; targets come from the config file only."""

    _custom_actions = {'census': ['GET']}

    @wsme_pecan.wsexpose(TargetCollection, int, wtypes.text, wtypes.text,
                         wtypes.text)
    def get_all(self, limit=None, marker=None, sort_key='name',
                sort_dir='asc'):
        policy.enforce(pecan.request.context, 'cryptkeeper:target:get_all')
        limit = utils.validate_limit(limit)
        utils.validate_sort(sort_key, sort_dir, TARGET_SORT_KEYS)
        utils.validate_string('marker', marker)
        if marker is not None and targets.get_target(CONF, marker) is None:
            raise exception.Invalid(reason='marker %s is not a target.'
                                    % marker)
        states = pecan.request.dbapi.get_target_states()
        items = sorted(
            (Target.convert(n, targets.get_target(CONF, n), states.get(n))
             for n in CONF.targets),
            key=lambda t: (getattr(t, sort_key), t.name),
            reverse=sort_dir == 'desc')
        if marker is not None:
            names = [t.name for t in items]
            items = items[names.index(marker) + 1:]
        return TargetCollection.page(items[:limit + 1], limit, 'targets',
                                     lambda t: t.name)

    @wsme_pecan.wsexpose(Target, wtypes.text)
    def get_one(self, name):
        policy.enforce(pecan.request.context, 'cryptkeeper:target:get',
                       resource_id=name)
        group = _group(name)
        state = pecan.request.dbapi.get_target_states().get(name)
        return Target.convert(name, group, state)

    @wsme_pecan.wsexpose(types.jsontype, wtypes.text)
    def census(self, name):
        """The latest succeeded census: its result, job id and time."""
        policy.enforce(pecan.request.context, 'cryptkeeper:target:census',
                       resource_id=name)
        _group(name)
        job = pecan.request.dbapi.latest_job(name, 'census')
        if job is None:
            raise exception.CensusNotFound(target=name)
        finished = types.utc(job.finished_at)
        return dict(job.result or {}, job_id=job.uuid, target=name,
                    finished_at=finished.isoformat() if finished else None)
