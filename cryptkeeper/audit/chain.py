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

"""Hashing and verification of the audit chain.

Each record's hash is SHA-256 over the canonical JSON of its fields plus
the previous record's hash, so an edit anywhere changes every later hash
and a removal leaves a gap in the ids or a mismatch with the head.
"""

import hashlib
import json

GENESIS = '0' * 64

# The fields a hash covers, in a fixed set; prev_hash is covered too.
HASHED_FIELDS = ('id', 'created_at', 'request_id', 'user_id', 'project_id',
                 'action', 'resource_type', 'resource_id', 'outcome',
                 'reason', 'details')


def _timestamp(value):
    # One textual form whatever the backend returns (naive UTC datetime).
    if value is None:
        return None
    return value.strftime('%Y-%m-%dT%H:%M:%S.%f')


def canonical(record, prev_hash):
    """Return the canonical bytes hashed for a record.

    :param record: a mapping with at least HASHED_FIELDS.
    :param prev_hash: the hash of the record before it.
    """
    doc = {k: record[k] for k in HASHED_FIELDS}
    doc['created_at'] = _timestamp(doc['created_at'])
    doc['details'] = doc['details'] or {}
    doc['prev_hash'] = prev_hash
    return json.dumps(doc, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True, default=str).encode('ascii')


def compute_hash(record, prev_hash):
    return hashlib.sha256(canonical(record, prev_hash)).hexdigest()


class Verification:
    """Walks records in id order and remembers the first break."""

    def __init__(self):
        self.records = 0
        self.prev_hash = GENESIS
        self.prev_id = 0
        self.first_broken = None
        self.reason = None

    @property
    def valid(self):
        return self.first_broken is None

    def _break(self, record_id, reason):
        if self.first_broken is None:
            self.first_broken = record_id
            self.reason = reason

    def feed(self, record):
        """Check one record; records must come in ascending id order."""
        self.records += 1
        if not self.valid:
            return
        rid = record['id']
        if rid != self.prev_id + 1:
            self._break(rid, 'record %d follows %d: %d record(s) missing'
                        % (rid, self.prev_id, rid - self.prev_id - 1))
        elif record['prev_hash'] != self.prev_hash:
            self._break(rid, 'record %d does not link to the hash of '
                        'record %d' % (rid, self.prev_id))
        elif compute_hash(record, record['prev_hash']) != record['hash']:
            self._break(rid, 'record %d was changed after it was written'
                        % rid)
        self.prev_id = rid
        self.prev_hash = record['hash']

    def finish(self, head_id, head_hash):
        """Compare the end of the walk with the stored chain head."""
        if self.valid and (head_id != self.prev_id
                           or head_hash != self.prev_hash):
            if head_id > self.prev_id:
                self._break(self.prev_id + 1,
                            'records %d to %d are missing at the end of '
                            'the chain' % (self.prev_id + 1, head_id))
            else:
                self._break(self.prev_id,
                            'the chain head does not match record %d'
                            % self.prev_id)
        return {'valid': self.valid, 'records': self.records,
                'head': head_hash, 'first_broken': self.first_broken,
                'reason': self.reason}
