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

"""Initial schema: jobs, the audit chain and target states.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None

GENESIS = '0' * 64


def _json():
    return db_types.JsonEncodedDict(mysql_as_medium=True)


def upgrade():
    big_id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    precise = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')
    op.create_table(
        'jobs',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('type', sa.String(32), nullable=False),
        sa.Column('target', sa.String(255), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('params', _json()),
        sa.Column('progress', _json()),
        sa.Column('result', _json()),
        sa.Column('created_by', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('request_id', sa.String(255)),
        sa.Column('cancel_requested', sa.Boolean, nullable=False),
        sa.Column('worker', sa.String(255)),
        sa.Column('lease_expires_at', sa.DateTime),
        sa.Column('lease_version', sa.Integer, nullable=False),
        sa.Column('attempts', sa.Integer, nullable=False),
        sa.Column('started_at', sa.DateTime),
        sa.Column('finished_at', sa.DateTime),
        sa.UniqueConstraint('uuid', name='uniq_jobs0uuid'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('jobs_state_lease_idx', 'jobs',
                    ['state', 'lease_expires_at'])
    op.create_index('jobs_target_type_state_idx', 'jobs',
                    ['target', 'type', 'state'])
    op.create_index('jobs_created_at_idx', 'jobs', ['created_at'])

    op.create_table(
        'audit_records',
        sa.Column('id', big_id, primary_key=True, autoincrement=False),
        sa.Column('created_at', precise, nullable=False),
        sa.Column('request_id', sa.String(255)),
        sa.Column('user_id', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('action', sa.String(64), nullable=False),
        sa.Column('resource_type', sa.String(64)),
        sa.Column('resource_id', sa.String(255)),
        sa.Column('outcome', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text),
        sa.Column('details', _json()),
        sa.Column('prev_hash', sa.String(64), nullable=False),
        sa.Column('hash', sa.String(64), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('audit_action_idx', 'audit_records', ['action'])
    op.create_index('audit_resource_idx', 'audit_records',
                    ['resource_type', 'resource_id'])
    op.create_index('audit_user_idx', 'audit_records', ['user_id'])
    op.create_index('audit_outcome_idx', 'audit_records', ['outcome'])
    op.create_index('audit_created_at_idx', 'audit_records',
                    ['created_at'])

    head = op.create_table(
        'audit_head',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=False),
        sa.Column('last_id', big_id, nullable=False),
        sa.Column('last_hash', sa.String(64), nullable=False),
        sa.Column('appends', big_id, nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    # The one row every append locks; see db/sqlalchemy/api.py.
    op.bulk_insert(head, [{'id': 1, 'last_id': 0, 'last_hash': GENESIS,
                           'appends': 0}])

    op.create_table(
        'target_states',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('name', sa.String(255), primary_key=True),
        sa.Column('reachable', sa.Boolean, nullable=False),
        sa.Column('checked_at', sa.DateTime, nullable=False),
        sa.Column('error', sa.Text),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
