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

"""Create a small SQLite database shaped like a Nova cell, for the demo.

The tables follow Nova's soft-delete conventions (``deleted`` holds the
row's id once soft-deleted, ``deleted_at`` its time) with rows spread over
the census age buckets, so a census has something real to count.
"""

import argparse
import datetime
import os
import random
import sqlite3
import uuid

SCHEMA = """
CREATE TABLE instances (
    id INTEGER PRIMARY KEY, uuid VARCHAR(36) NOT NULL UNIQUE,
    project_id VARCHAR(255), host VARCHAR(255), vm_state VARCHAR(255),
    created_at DATETIME, deleted_at DATETIME, deleted INTEGER DEFAULT 0);
CREATE TABLE instance_system_metadata (
    id INTEGER PRIMARY KEY, instance_uuid VARCHAR(36) NOT NULL
        REFERENCES instances(uuid),
    key VARCHAR(255), value TEXT,
    created_at DATETIME, deleted_at DATETIME, deleted INTEGER DEFAULT 0);
CREATE TABLE instance_actions (
    id INTEGER PRIMARY KEY, instance_uuid VARCHAR(36)
        REFERENCES instances(uuid),
    action VARCHAR(255), created_at DATETIME);
"""


def build(path, instances, seed=7):
    """Write the demo database at ``path``, replacing any old one."""
    if os.path.exists(path):
        os.unlink(path)
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    now = datetime.datetime.utcnow().replace(microsecond=0)
    ages = [3, 45, 200, 500]  # days: one per census age bucket
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    meta_id = 0
    for i in range(1, instances + 1):
        created = now - datetime.timedelta(days=600)
        deleted = rng.random() < 0.7
        deleted_at = (now - datetime.timedelta(days=rng.choice(ages))
                      if deleted else None)
        inst = str(uuid.UUID(int=rng.getrandbits(128)))
        db.execute('INSERT INTO instances VALUES (?,?,?,?,?,?,?,?)',
                   (i, inst, 'demo-project', 'compute-%d' % (i % 3),
                    'deleted' if deleted else 'active', created,
                    deleted_at, i if deleted else 0))
        for key in ('image_base_image_ref', 'EC2_client_token', 'owner'):
            meta_id += 1
            db.execute('INSERT INTO instance_system_metadata '
                       'VALUES (?,?,?,?,?,?,?)',
                       (meta_id, inst, key, 'v%d' % i, created, deleted_at,
                        meta_id if deleted else 0))
        db.execute('INSERT INTO instance_actions VALUES (?,?,?,?)',
                   (i, inst, 'create', created))
    db.commit()
    db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('path', help='SQLite file to create')
    parser.add_argument('--instances', type=int, default=200,
                        help='number of instances (default 200)')
    args = parser.parse_args()
    build(args.path, args.instances)
    print('Demo target written to %s (%d instances).'
          % (args.path, args.instances))


if __name__ == '__main__':
    main()
