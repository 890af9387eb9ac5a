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

"""Compute-host agents, console-log policies and console logs.

Revision ID: 0004_agents_console
Revises: 0003_schedules
Create Date: 2026-11-21
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

revision = '0004_agents_console'
down_revision = '0003_schedules'
branch_labels = None
depends_on = None


def _timestamps():
    return [sa.Column('created_at', sa.DateTime),
            sa.Column('updated_at', sa.DateTime)]


def upgrade():
    op.create_table(
        'agents',
        *_timestamps(),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('version', sa.String(64)),
        sa.Column('tasks', db_types.JsonEncodedList()),
        sa.Column('info', db_types.JsonEncodedDict()),
        sa.Column('first_seen_at', sa.DateTime, nullable=False),
        sa.Column('last_seen_at', sa.DateTime, nullable=False),
        sa.Column('last_sweep', db_types.JsonEncodedDict()),
        sa.Column('last_sweep_at', sa.DateTime),
        sa.UniqueConstraint('host', name='uniq_agents0host'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_table(
        'console_policies',
        *_timestamps(),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('scope_kind', sa.String(16), nullable=False),
        sa.Column('scope_value', sa.String(255), nullable=False),
        sa.Column('max_bytes', sa.BigInteger, nullable=False),
        sa.Column('keep_bytes', sa.BigInteger, nullable=False),
        sa.Column('backups', sa.Integer, nullable=False),
        sa.Column('max_age_days', sa.Integer),
        sa.Column('mode', sa.String(16), nullable=False),
        sa.Column('enabled', sa.Boolean, nullable=False),
        sa.Column('created_by', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.UniqueConstraint('uuid', name='uniq_console_policies0uuid'),
        sa.UniqueConstraint('name', name='uniq_console_policies0name'),
        sa.UniqueConstraint('scope_kind', 'scope_value',
                            name='uniq_console_policies0scope'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_table(
        'console_logs',
        *_timestamps(),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('instance', sa.String(36), nullable=False),
        sa.Column('host', sa.String(255)),
        sa.Column('project', sa.String(255)),
        sa.Column('reported_by', sa.String(255), nullable=False),
        sa.Column('path', sa.String(1024)),
        sa.Column('present', sa.Boolean, nullable=False),
        sa.Column('apparent_bytes', sa.BigInteger, nullable=False),
        sa.Column('allocated_bytes', sa.BigInteger, nullable=False),
        sa.Column('rotated_bytes', sa.BigInteger, nullable=False),
        sa.Column('growth_bytes_per_hour', sa.BigInteger),
        sa.Column('runaway', sa.Boolean, nullable=False),
        sa.Column('runaway_since', sa.DateTime),
        sa.Column('holders', db_types.JsonEncodedDict()),
        sa.Column('problems', db_types.JsonEncodedList()),
        sa.Column('measured_at', sa.DateTime, nullable=False),
        sa.Column('last_action', db_types.JsonEncodedDict()),
        sa.Column('last_action_at', sa.DateTime),
        sa.UniqueConstraint('instance', name='uniq_console_logs0instance'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4',
    )
    op.create_index('console_logs_host_idx', 'console_logs', ['host'])
    op.create_index('console_logs_reported_by_idx', 'console_logs',
                    ['reported_by', 'measured_at'])
    op.create_index('console_logs_allocated_idx', 'console_logs',
                    ['allocated_bytes'])
    op.create_index('console_logs_apparent_idx', 'console_logs',
                    ['apparent_bytes'])
    op.create_index('console_logs_runaway_idx', 'console_logs', ['runaway'])
