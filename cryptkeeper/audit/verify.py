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

"""Verify the whole audit chain, a page at a time."""

from cryptkeeper.audit import chain

PAGE = 1000


def verify(dbapi, page=PAGE):
    """Walk every record and compare the end with the chain head.

    Memory stays bounded by ``page`` whatever the size of the log.

    :returns: {"valid", "records", "head", "first_broken", "reason"}
    """
    # Read the head first: records appended during the walk then lie
    # past it and do not count as a mismatch.
    head_id, head_hash = dbapi.audit_head()
    check = chain.Verification()
    after = 0
    while after < head_id:
        rows = dbapi.audit_chain(after_id=after,
                                 limit=min(page, head_id - after))
        rows = [r for r in rows if r.id <= head_id]
        if not rows:
            break
        for row in rows:
            check.feed(row.as_dict())
        after = rows[-1].id
    return check.finish(head_id, head_hash)
