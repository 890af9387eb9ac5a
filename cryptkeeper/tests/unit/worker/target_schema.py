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

"""A small generic target schema with soft-deleted rows of known ages."""

import datetime

import sqlalchemy as sa

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0)

# Ages in days of the soft-deleted rows of each dated table; None is a
# deleted row with no deleted_at. Bucket bounds: [0,30) [30,90) [90,365)
# [365,...); exactly 30 days falls in 30_90d.
AGES = (1, 29, 30, 31, 89, 90, 364, 365, 1000, None)
BUCKETS = {'lt_30d': 2, '30_90d': 3, '90_365d': 2, 'gt_365d': 2,
           'unknown_age': 1}
LIVE = 3


def build(engine, extra_tables=0, now=NOW):
    """Create and fill the schema; return the census each table expects.

    :param extra_tables: plain tables to add, to make a census longer.
    :param now: the time ages count back from; a census run a little
        later sees the same buckets, since each lower bound is inclusive.
    """
    def _ts(age):
        return None if age is None else now - datetime.timedelta(days=age)

    meta = sa.MetaData()
    nova = sa.Table('instances', meta,
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('deleted', sa.Integer, default=0),
                    sa.Column('deleted_at', sa.DateTime))
    cinder = sa.Table('volumes', meta,
                      sa.Column('id', sa.Integer, primary_key=True),
                      sa.Column('deleted', sa.Boolean, default=False),
                      sa.Column('deleted_at', sa.DateTime))
    heat = sa.Table('stack', meta,
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('deleted_at', sa.DateTime))
    flag_only = sa.Table('flag_only', meta,
                         sa.Column('id', sa.Integer, primary_key=True),
                         sa.Column('deleted', sa.Integer, default=0))
    # A reserved word as a name: identifiers must be quoted, not pasted.
    plain = sa.Table('select', meta,
                     sa.Column('id', sa.Integer, primary_key=True),
                     sa.Column('name', sa.String(32)))
    extras = [sa.Table('extra_%03d' % i, meta,
                       sa.Column('id', sa.Integer, primary_key=True))
              for i in range(extra_tables)]
    meta.create_all(engine)
    with engine.begin() as conn:
        n = 0
        for age in AGES:
            n += 1
            conn.execute(nova.insert().values(id=n, deleted=n,
                                              deleted_at=_ts(age)))
            conn.execute(cinder.insert().values(id=n, deleted=True,
                                                deleted_at=_ts(age)))
            if age is not None:
                conn.execute(heat.insert().values(id=n, deleted_at=_ts(age)))
        for _ in range(LIVE):
            n += 1
            conn.execute(nova.insert().values(id=n, deleted=0))
            conn.execute(cinder.insert().values(id=n, deleted=False))
            conn.execute(heat.insert().values(id=n, deleted_at=None))
        conn.execute(flag_only.insert(), [{'id': i, 'deleted': i % 2}
                                          for i in range(1, 8)])
        conn.execute(plain.insert(), [{'id': i, 'name': 'r%d' % i}
                                      for i in range(1, 5)])
        for table in extras:
            conn.execute(table.insert().values(id=1))
    dated = len(AGES)
    heat_buckets = dict(BUCKETS, unknown_age=0)
    expected = {
        'instances': (dated + LIVE, dated, BUCKETS, 'deleted'),
        'volumes': (dated + LIVE, dated, BUCKETS, 'deleted'),
        'stack': (dated - 1 + LIVE, dated - 1, heat_buckets, 'deleted_at'),
        'flag_only': (7, 4, {'lt_30d': 0, '30_90d': 0, '90_365d': 0,
                             'gt_365d': 0, 'unknown_age': 4}, 'deleted'),
        'select': (4, None, None, None),
    }
    for table in extras:
        expected[table.name] = (1, None, None, None)
    return expected
