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

"""The audit log: read-only, hash-chained records."""

import datetime

import pecan
from wsme import types as wtypes
import wsmeext.pecan as wsme_pecan

from cryptkeeper.api.controllers import base
from cryptkeeper.api.controllers import link
from cryptkeeper.api.controllers.v1 import collection
from cryptkeeper.api.controllers.v1 import types
from cryptkeeper.api.controllers.v1 import utils
from cryptkeeper.audit import records
from cryptkeeper.audit import verify as audit_verify
from cryptkeeper.common import exception
from cryptkeeper.common import policy
from cryptkeeper.db import api as db_api


class AuditRecord(base.APIBase):
    """One audit record."""

    _fields = ('id', 'request_id', 'user_id', 'project_id', 'action',
               'resource_type', 'resource_id', 'outcome', 'reason',
               'prev_hash', 'hash')

    id = int
    """Position of the record in the chain, from 1."""

    created_at = datetime.datetime
    """When the record was written (UTC)."""

    request_id = wtypes.text
    """Request id of the API call that caused the record."""

    user_id = wtypes.text
    """Who acted."""

    project_id = wtypes.text
    """The project of who acted."""

    action = wtypes.text
    """What was done or attempted, such as job.create."""

    resource_type = wtypes.text
    """Kind of the resource acted on, such as job."""

    resource_id = wtypes.text
    """Id of the resource acted on."""

    outcome = wtypes.text
    """success, failure, denied or refused."""

    reason = wtypes.text
    """Why, for anything but success."""

    details = types.jsondict
    """Exact parameters, counts and other facts of the action."""

    prev_hash = wtypes.text
    """SHA-256 of the previous record."""

    hash = wtypes.text
    """SHA-256 of this record and prev_hash."""

    links = [link.Link]
    """Links to the record."""

    @classmethod
    def convert(cls, row):
        return cls.from_row(
            row, details=row.details or {},
            created_at=types.utc(row.created_at),
            links=[link.Link.make('self', 'v1', 'audit', row.id)])


class AuditCollection(collection.Collection):
    """A page of audit records."""

    _items = 'audit'

    audit = [AuditRecord]
    """The records of this page."""


class Verification(wtypes.Base):
    """Whether the audit chain is intact."""

    valid = bool
    """True when no record was changed or removed."""

    records = int
    """How many records were read."""

    head = wtypes.text
    """Hash at the head of the chain."""

    first_broken = int
    """Id of the first record that does not verify, or null."""

    reason = wtypes.text
    """What is wrong with that record, or null."""


_STRING_FILTERS = ('action', 'resource_type', 'resource_id', 'user_id',
                   'request_id')


class AuditController(base.ResourceController):
    """/v1/audit, with no update or delete: the log is append-only."""

    _custom_actions = {'verify': ['GET']}

    @wsme_pecan.wsexpose(AuditCollection, wtypes.text, wtypes.text,
                         wtypes.text, wtypes.text, wtypes.text,
                         wtypes.text, wtypes.text, wtypes.text, int, int,
                         wtypes.text, wtypes.text)
    def get_all(self, action=None, resource_type=None, resource_id=None,
                user_id=None, outcome=None, request_id=None, since=None,
                until=None, limit=None, marker=None, sort_key='id',
                sort_dir='asc'):
        policy.enforce(pecan.request.context, 'cryptkeeper:audit:get_all')
        given = {'action': action, 'resource_type': resource_type,
                 'resource_id': resource_id, 'user_id': user_id,
                 'request_id': request_id}
        filters = {k: utils.validate_string(k, given[k])
                   for k in _STRING_FILTERS}
        filters['outcome'] = utils.validate_choice('outcome', outcome,
                                                   records.OUTCOMES)
        filters['since'] = utils.parse_time('since', since)
        filters['until'] = utils.parse_time('until', until)
        limit, rows = collection.fetch(
            pecan.request.dbapi.list_audit, limit, marker, sort_key,
            sort_dir, db_api.AUDIT_SORT_KEYS, exception.AuditRecordNotFound,
            'an audit record', check_marker=utils.validate_id,
            filters=filters)
        items = [AuditRecord.convert(r) for r in rows]
        return AuditCollection.page(items, limit, 'audit', lambda r: r.id)

    @wsme_pecan.wsexpose(AuditRecord, int)
    def get_one(self, record_id):
        policy.enforce(pecan.request.context, 'cryptkeeper:audit:get',
                       resource_id=str(record_id))
        utils.validate_id('record id', record_id)
        return AuditRecord.convert(pecan.request.dbapi.get_audit(record_id))

    @wsme_pecan.wsexpose(Verification)
    def verify(self):
        policy.enforce(pecan.request.context, 'cryptkeeper:audit:verify')
        return Verification(**audit_verify.verify(pecan.request.dbapi))
