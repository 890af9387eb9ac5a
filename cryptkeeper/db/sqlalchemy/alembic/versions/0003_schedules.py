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

"""Schedules: recurring jobs fired by the workers.

Revision ID: 0003_schedules
Revises: 0002_purge
Create Date: 2026-11-21
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

revision = '0003_schedules'
down_revision = '0002_purge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'schedules',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('cron', sa.String(255), nullable=False),
        sa.Column('enabled', sa.Boolean, nullable=False),
        sa.Column('job_type', sa.String(32), nullable=False),
        sa.Column('target', sa.String(255), nullable=False),
        sa.Column('params', db_types.JsonEncodedDict(mysql_as_medium=True)),
        sa.Column('next_run_at', sa.DateTime),
        sa.Column('last_run_at', sa.DateTime),
        sa.Column('last_job_id', sa.String(36)),
        sa.Column('created_by', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.UniqueConstraint('uuid', name='uniq_schedules0uuid'),
        sa.UniqueConstraint('name', name='uniq_schedules0name'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('schedules_enabled_next_run_idx', 'schedules',
                    ['enabled', 'next_run_at'])
    op.create_index('schedules_created_at_idx', 'schedules', ['created_at'])
