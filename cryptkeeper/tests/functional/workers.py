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

"""Real cryptkeeper-worker processes on the opportunistic databases."""

import os
import subprocess

from oslo_utils import uuidutils
import sqlalchemy as sa

from cryptkeeper.db import api as db_api
from cryptkeeper.db.sqlalchemy import migration
from cryptkeeper.tests.local_fixtures import processes
from cryptkeeper.tests.unit.worker import helpers


def write_config(path, state_path, connection, targets, extra=''):
    """Write a worker's configuration file.

    Leases, heartbeats and polls are short, so a test sees a takeover
    within seconds.

    :param targets: {name: (profile, url, api_target or None)}.
    :param extra: more sections, written before the targets'.
    """
    text = ('[DEFAULT]\nstate_path = %s\ntargets = %s\n'
            '[database]\nconnection = %s\n'
            '[worker]\nlease_time = 5\nheartbeat_interval = 1\n'
            'poll_interval = 0.2\ntarget_check_interval = 3600\n'
            % (state_path, ','.join(sorted(targets)), connection)) + extra
    for name, (profile, url, api_target) in sorted(targets.items()):
        text += ('[target:%s]\nprofile = %s\nconnection = %s\n'
                 % (name, profile, url))
        if api_target:
            text += 'api_target = %s\n' % api_target
    with open(path, 'w') as f:
        f.write(text)
    # It holds database passwords.
    os.chmod(path, 0o600)


class WorkerProcessMixin:
    """cryptkeeper's schema on the test's database, and workers on it.

    For a db_base.OpportunisticTestCase: ``self.engine`` is the database
    the workers share.
    """

    def setUp(self):
        super().setUp()
        migration.upgrade('head', engine=self.engine)
        self.dbapi = db_api.get_instance()
        self.state = self.conf_fixture.state_path
        self.config_file = os.path.join(self.state, 'worker.conf')

    def _write_worker_config(self, targets, extra=''):
        write_config(self.config_file, self.state,
                     self.engine.url.render_as_string(hide_password=False),
                     targets, extra)

    def _admin(self):
        return self.engine.execution_options(isolation_level='AUTOCOMMIT')

    def _start_worker(self, n):
        """Start worker number ``n``; killed at cleanup if still running."""
        log = open(os.path.join(self.state, 'worker-%d.log' % n), 'w')
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            processes.command('cryptkeeper-worker') + [
                '--config-file', self.config_file],
            stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, proc)
        return proc

    def _reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(helpers.WAIT)

    def _job(self, job):
        return self.dbapi.get_job(job.uuid)

    def _actions(self, job):
        return list(self.dbapi.list_audit(
            filters={'resource_id': job.uuid}))

    def _select_only_url(self, url):
        """``url`` for a new account that may only SELECT in its database.

        The account is dropped at cleanup.
        """
        url = sa.engine.make_url(url)
        user = 'ckro_%s' % uuidutils.generate_uuid(dashed=False)[:8]
        password = uuidutils.generate_uuid(dashed=False)
        if self.engine.dialect.name == 'postgresql':
            with self._admin().connect() as conn:
                conn.exec_driver_sql("CREATE ROLE %s LOGIN PASSWORD '%s'"
                                     % (user, password))
                conn.exec_driver_sql('GRANT CONNECT ON DATABASE %s TO %s'
                                     % (url.database, user))
            self.addCleanup(self._drop_pg_role, user, url)
            target = sa.create_engine(url, isolation_level='AUTOCOMMIT')
            try:
                with target.connect() as conn:
                    conn.exec_driver_sql('GRANT USAGE ON SCHEMA public TO %s'
                                         % user)
                    conn.exec_driver_sql('GRANT SELECT ON ALL TABLES IN '
                                         'SCHEMA public TO %s' % user)
            finally:
                target.dispose()
        else:
            with self._admin().connect() as conn:
                # exec_driver_sql hands the text to PyMySQL's %-format.
                for host in ('%%', 'localhost'):
                    conn.exec_driver_sql(
                        "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'"
                        % (user, host, password))
                    conn.exec_driver_sql("GRANT SELECT ON %s.* TO '%s'@'%s'"
                                         % (url.database, user, host))
            self.addCleanup(self._drop_mysql_user, user)
        return url.set(username=user, password=password).render_as_string(
            hide_password=False)

    def _drop_pg_role(self, user, url):
        # A role cannot go while it holds privileges in any database, and
        # the target database may outlive the test.
        target = sa.create_engine(url, isolation_level='AUTOCOMMIT')
        try:
            with target.connect() as conn:
                conn.exec_driver_sql('REVOKE ALL ON ALL TABLES IN SCHEMA '
                                     'public FROM %s' % user)
                conn.exec_driver_sql('REVOKE ALL ON SCHEMA public FROM %s'
                                     % user)
        finally:
            target.dispose()
        with self._admin().connect() as conn:
            conn.exec_driver_sql('REVOKE ALL ON DATABASE %s FROM %s'
                                 % (url.database, user))
            conn.exec_driver_sql('DROP ROLE IF EXISTS %s' % user)

    def _drop_mysql_user(self, user):
        with self._admin().connect() as conn:
            for host in ('%%', 'localhost'):
                conn.exec_driver_sql("DROP USER IF EXISTS '%s'@'%s'"
                                     % (user, host))
