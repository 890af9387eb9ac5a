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

"""Purge jobs in real worker processes on a real Nova schema.

A worker is killed with SIGKILL in the middle of an archive; another one
takes the job over once the lease has expired and finishes it. Whatever
the moment of the kill, no row may be lost or archived twice, and the
counts the job reports must be exact. Plan mode must succeed as a user
that may only SELECT.
"""

import signal

from oslo_utils import timeutils
import sqlalchemy as sa

from cryptkeeper.audit import records
from cryptkeeper.audit import verify
from cryptkeeper.db import api as db_api
from cryptkeeper.purge import journal
from cryptkeeper.purge import params as purge_params
from cryptkeeper.purge import rows as purge_rows
from cryptkeeper.tests.functional import db_base
from cryptkeeper.tests.functional import workers
from cryptkeeper.tests.local_fixtures import nova
from cryptkeeper.tests.local_fixtures import nova_data
from cryptkeeper.tests.unit.worker import helpers

DELETED = 40
LIVE = 8
API_TABLES = nova_data.API_TABLES + ('instance_group_member',)


def _all_tables(engine):
    return set(sa.inspect(engine).get_table_names())


def _rows(conn, table):
    return [dict(r._mapping) for r in conn.execute(table.select())]


def state_of(engine, names):
    """{table: (count, sha256)} of each table with its shadow copy merged.

    Equal before and after an archive means every row is in exactly one
    of the two places, unchanged.
    """
    present = _all_tables(engine)
    meta = sa.MetaData()
    wanted = [n for n in names if n in present]
    wanted += ['shadow_' + n for n in names if 'shadow_' + n in present]
    meta.reflect(engine, only=wanted)
    out = {}
    with engine.connect() as conn:
        for name in names:
            if name not in meta.tables:
                continue
            table = meta.tables[name]
            pk = [c.name for c in table.primary_key.columns]
            found = _rows(conn, table)
            shadow = meta.tables.get('shadow_' + name)
            if shadow is not None:
                found += _rows(conn, shadow)
            out[name] = purge_rows.digest(found, pk)
    return out


def counts_of(engine, names, prefix=''):
    present = _all_tables(engine)
    out = {}
    with engine.connect() as conn:
        for name in names:
            if prefix + name in present:
                out[name] = conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.table(prefix + name))).scalar()
    return out


class _PurgeTakeover(workers.WorkerProcessMixin, nova.NovaSchemaPerClass):
    """Shared by the MariaDB and PostgreSQL classes below."""

    @classmethod
    def load_class_data(cls):
        cls.loaded = nova_data.load(
            cls.dbs.cell_engine, cls.dbs.api_engine, deleted=DELETED,
            live=LIVE, ages=(3, 45, 200))

    def setUp(self):
        super().setUp()
        self._write_config()

    def _write_config(self, **extra_targets):
        targets = dict({'nova': ('nova', self.dbs.cell_url, 'nova_api'),
                        'nova_api': ('nova_api', self.dbs.api_url, None)},
                       **extra_targets)
        self._write_worker_config(targets, '[purge]\nlock_poll = 0.2\n')

    def _purge_job(self, target, **params):
        ctx = self.context
        parsed = purge_params.Params.from_dict(params,
                                               now=timeutils.utcnow())
        return self.dbapi.create_job(
            {'type': 'purge', 'target': target, 'params': parsed.to_dict(),
             'created_by': ctx.user_id, 'project_id': ctx.project_id,
             'request_id': ctx.request_id},
            records.entry(ctx, 'job.create',
                          details={'params': parsed.to_dict()}))

    @staticmethod
    def _instances(engine):
        """(soft-deleted, live) instances."""
        with engine.connect() as conn:
            return tuple(conn.exec_driver_sql(
                'SELECT count(*) FROM instances WHERE deleted %s 0' % op
            ).scalar() for op in ('!=', '='))

    def _wait_done(self, job):
        return helpers.wait_for(
            lambda: (lambda j: j if j.state in db_api.TERMINAL_STATES
                     else None)(self._job(job)),
            'job %s to finish' % job.uuid, timeout=600)

    def test_killed_worker_mid_archive_loses_nothing(self):
        cell, api = self.dbs.cell_engine, self.dbs.api_engine
        cell_before = state_of(cell, nova_data.CELL_TABLES)
        api_before = state_of(api, API_TABLES)
        deleted_before, live_before = self._instances(cell)
        shadow_before = counts_of(cell, nova_data.CELL_TABLES, 'shadow_')

        # Two instances a batch, a pause after each: the first worker is
        # surely in the middle of the job when it is killed.
        job = self._purge_job('nova', mode='archive', older_than=0,
                              batch_size=2, pause=0.3)
        first = self._start_worker(1)
        helpers.wait_for(
            lambda: len(self.dbapi.journal_batches(
                job.uuid, state=journal.DONE)) >= 4,
            'the first worker to finish some batches', timeout=600)
        running = self._job(job)
        self.assertEqual('running', running.state)
        first.send_signal(signal.SIGKILL)
        first.wait(helpers.WAIT)
        dead = running.worker
        done_at_kill = len(self.dbapi.journal_batches(
            job.uuid, state=journal.DONE))
        self.assertLess(done_at_kill, deleted_before // 2)

        second = self._start_worker(2)
        job = self._wait_done(job)
        self.assertEqual('succeeded', job.state, job.result)
        self.assertEqual(2, job.attempts)
        self.assertNotEqual(dead, job.worker)

        # Nothing lost, nothing twice: source and shadow together hold
        # exactly the rows there were.
        self.assertEqual(cell_before, state_of(cell, nova_data.CELL_TABLES))
        self.assertEqual(api_before, state_of(api, API_TABLES))
        # Every soft-deleted instance went, and no live one.
        self.assertEqual((0, live_before), self._instances(cell))

        # The counts are exact: what the job says it archived is what the
        # shadow tables gained, table by table.
        shadow_after = counts_of(cell, nova_data.CELL_TABLES, 'shadow_')
        gained = {name: shadow_after[name] - shadow_before.get(name, 0)
                  for name in shadow_after}
        gained = {name: n for name, n in gained.items() if n}
        tables = job.progress['tables']
        self.assertEqual(gained, {name: counts['archived']
                                  for name, counts in tables.items()
                                  if counts['archived']})
        for name, counts in tables.items():
            self.assertEqual(counts['archived'], counts['deleted'], name)
        self.assertEqual(deleted_before, tables['instances']['deleted'])
        journalled = {}
        for batch in self.dbapi.journal_batches(job.uuid):
            self.assertEqual(journal.DONE, batch['state'])
            for name, n in batch['counts'].items():
                journalled[name] = journalled.get(name, 0) + n
        self.assertEqual(gained, {k: v for k, v in journalled.items()
                                  if v})

        # The API database rows of the archived instances went along.
        follow = job.result['followups']['tables']
        for name in nova_data.API_TABLES:
            self.assertEqual(deleted_before, follow[name]['archived'], name)
        with api.connect() as conn:
            self.assertEqual(LIVE, conn.exec_driver_sql(
                'SELECT count(*) FROM instance_mappings').scalar())

        audit = self._actions(job)
        self.assertEqual(['job.create', 'job.start', 'job.takeover',
                          'job.finish'], [r.action for r in audit])
        self.assertEqual(dead, audit[2].details['previous_worker'])
        self.assertEqual(tables, audit[3].details['summary']['tables'])
        self.assertTrue(verify.verify(self.dbapi)['valid'])

        second.send_signal(signal.SIGTERM)
        self.assertEqual(0, second.wait(helpers.WAIT))

    def test_plan_as_select_only_user(self):
        url = self._select_only_url(self.dbs.cell_url)
        engine = sa.create_engine(url)
        self.addCleanup(engine.dispose)
        with engine.connect() as conn:
            self.assertRaises(sa.exc.DBAPIError, conn.exec_driver_sql,
                              'DELETE FROM instances')
        self._write_config(nova_ro=('nova', url, None))
        # Whichever test ran first, there are deleted rows to plan for.
        nova_data.load(self.dbs.cell_engine, self.dbs.api_engine,
                       deleted=6, live=0, ages=(3, 45))
        before = state_of(self.dbs.cell_engine, nova_data.CELL_TABLES)
        job = self._purge_job('nova_ro', mode='plan', older_than=0)
        worker = self._start_worker(1)
        job = self._wait_done(job)
        self.assertEqual('succeeded', job.state, job.result)
        deleted, _live = self._instances(self.dbs.cell_engine)
        self.assertGreaterEqual(deleted, 6)
        self.assertEqual(deleted,
                         job.progress['tables']['instances']['planned'])
        self.assertEqual(before, state_of(self.dbs.cell_engine,
                                          nova_data.CELL_TABLES))
        worker.send_signal(signal.SIGTERM)
        self.assertEqual(0, worker.wait(helpers.WAIT))


class TestPurgeTakeoverMySQL(db_base.MySQLMixin, _PurgeTakeover,
                             db_base.OpportunisticTestCase):
    BACKEND = 'mysql'


class TestPurgeTakeoverPostgreSQL(db_base.PostgreSQLMixin, _PurgeTakeover,
                                  db_base.OpportunisticTestCase):
    BACKEND = 'postgresql'
