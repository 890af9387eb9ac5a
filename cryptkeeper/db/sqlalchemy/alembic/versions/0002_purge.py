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

"""Purge journal: the batches of purge jobs.

Revision ID: 0002_purge
Revises: 0001_initial
Create Date: 2026-11-21
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

revision = '0002_purge'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table(
        'purge_batches',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', big_id, primary_key=True, autoincrement=True),
        sa.Column('job_uuid', sa.String(36), nullable=False),
        sa.Column('scope', sa.String(255), nullable=False),
        sa.Column('seq', sa.Integer, nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('root', sa.String(255), nullable=False),
        sa.Column('marker', db_types.JsonEncodedList()),
        sa.Column('keys', db_types.JsonEncodedDict(mysql_as_medium=True)),
        sa.Column('counts', db_types.JsonEncodedDict()),
        sa.Column('checksums', db_types.JsonEncodedDict()),
        sa.Column('location', db_types.JsonEncodedDict()),
        sa.Column('followup',
                  db_types.JsonEncodedDict(mysql_as_medium=True)),
        sa.UniqueConstraint('job_uuid', 'scope', 'seq',
                            name='uniq_purge_batches0job_uuid0scope0seq'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('purge_batches_job_state_idx', 'purge_batches',
                    ['job_uuid', 'state'])
