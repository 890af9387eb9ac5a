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

"""Exceptions with an HTTP status and a message safe to show users."""

import http


class CryptkeeperException(Exception):
    """Base exception: ``msg_fmt`` is filled from the keyword arguments."""

    msg_fmt = 'An unknown error occurred.'
    code = http.HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs
        self.message = str(message)
        super().__init__(self.message)


class Invalid(CryptkeeperException):
    msg_fmt = 'Invalid input: %(reason)s'
    code = http.HTTPStatus.BAD_REQUEST


class NotFound(CryptkeeperException):
    msg_fmt = 'Resource could not be found.'
    code = http.HTTPStatus.NOT_FOUND


class JobNotFound(NotFound):
    msg_fmt = 'Job %(job)s could not be found.'


class AuditRecordNotFound(NotFound):
    msg_fmt = 'Audit record %(record)s could not be found.'


class TargetNotFound(NotFound):
    msg_fmt = ('Target %(target)s is not configured. Targets are defined '
               'in the configuration file only.')


class CensusNotFound(NotFound):
    msg_fmt = 'Target %(target)s has no finished census yet.'


class Conflict(CryptkeeperException):
    msg_fmt = 'Conflict: %(reason)s'
    code = http.HTTPStatus.CONFLICT


class JobFinished(Conflict):
    msg_fmt = 'Job %(job)s has already finished in state %(state)s.'


class NotAuthorized(CryptkeeperException):
    msg_fmt = 'Not authorized.'
    code = http.HTTPStatus.FORBIDDEN


class PolicyNotAuthorized(NotAuthorized):
    msg_fmt = 'Policy does not allow %(action)s to be performed.'


class LeaseLost(CryptkeeperException):
    msg_fmt = ('Worker %(worker)s lost the lease of job %(job)s; another '
               'worker took it over.')


class JobCancelled(CryptkeeperException):
    msg_fmt = 'Job %(job)s was cancelled.'


class TargetUnavailable(CryptkeeperException):
    msg_fmt = 'Target %(target)s is unavailable: %(reason)s'
    code = http.HTTPStatus.SERVICE_UNAVAILABLE


class JournalConflict(Conflict):
    msg_fmt = ('Batch %(seq)s of purge job %(job)s is already %(state)s; '
               'it cannot be prepared again.')


class ScheduleNotFound(NotFound):
    msg_fmt = 'Schedule %(schedule)s could not be found.'


class ScheduleNameExists(Conflict):
    msg_fmt = 'A schedule named %(name)s already exists.'


class AgentNotFound(NotFound):
    msg_fmt = 'No agent on host %(host)s has reported yet.'


class ConsolePolicyNotFound(NotFound):
    msg_fmt = 'Console-log policy %(policy)s could not be found.'


class ConsolePolicyScopeExists(Invalid):
    # 400 rather than 409: the fixed interface calls a duplicate
    # scope bad input, since two policies on one scope are ambiguous.
    msg_fmt = ('Invalid input: policy %(other)s already has scope '
               '%(scope)s; two policies on one scope would be ambiguous. '
               'Update that policy or delete it first.')


class ConsolePolicyNameExists(Conflict):
    msg_fmt = 'A console-log policy named %(name)s already exists.'


class ConsoleLogNotFound(NotFound):
    msg_fmt = 'No agent has reported a console log of instance %(instance)s.'
