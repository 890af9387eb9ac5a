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

"""Target databases: opening them safely and checking they answer."""

import datetime
import os

from oslo_log import log
from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy.engine import url as sa_url
from sqlalchemy import pool

from cryptkeeper.common import coordination
from cryptkeeper.common import exception
from cryptkeeper import conf
from cryptkeeper.conf import targets as target_conf
from cryptkeeper.worker import messages

CONF = conf.CONF
LOG = log.getLogger(__name__)

# A reachability probe must not hang a worker on a dead host.
CHECK_TIMEOUT = 10

# The pool of a purge job's engine: a batch opens several connections in
# turn (source, API database, settling), and a TLS MySQL connect costs
# tens of milliseconds, so a job keeps a couple open until it ends.
JOB_POOL_SIZE = 2
JOB_POOL_OVERFLOW = 2
JOB_POOL_RECYCLE = 600


def target_engine(name, url, connect_timeout=None, pooled=False):
    """Return an engine on a target, owned (and disposed) by the caller.

    No pool by default: a probe opens one connection and is done with it,
    and idle connections to other services' databases help nobody.

    :param pooled: a small pool (MySQL, PostgreSQL), for a job that
        connects many times and disposes of the engine when it ends.
        Session state must not outlive a use: the executor sets its
        isolation level with execution_options (reset when a connection
        goes back to the pool), and read-only guards invalidate their
        connection instead of returning it.
    """
    if not url:
        raise exception.TargetUnavailable(
            target=name, reason='no connection is configured')
    try:
        parsed = sa_url.make_url(url)
    except Exception:
        raise exception.TargetUnavailable(
            target=name, reason='the connection URL does not parse') from None
    backend = parsed.get_backend_name()
    database = parsed.database
    if (backend == 'sqlite' and database and database != ':memory:'
            and not database.startswith('file:')
            and not os.path.exists(database)):
        # SQLite would create an empty file, a write and a false census.
        raise exception.TargetUnavailable(
            target=name, reason='database file %s does not exist' % database)
    connect_args = {}
    if connect_timeout:
        if backend in ('mysql', 'postgresql'):
            connect_args['connect_timeout'] = int(connect_timeout)
        elif backend == 'sqlite':
            connect_args['timeout'] = connect_timeout
    if pooled and backend in ('mysql', 'postgresql'):
        return sa.create_engine(
            parsed, poolclass=pool.QueuePool, pool_size=JOB_POOL_SIZE,
            max_overflow=JOB_POOL_OVERFLOW, pool_pre_ping=True,
            pool_recycle=JOB_POOL_RECYCLE, pool_reset_on_return='rollback',
            connect_args=connect_args)
    return sa.create_engine(parsed, poolclass=pool.NullPool,
                            connect_args=connect_args)


def check_target(name, url, timeout=CHECK_TIMEOUT):
    """Connect and SELECT 1; return (reachable, safe error or None)."""
    engine = None
    try:
        engine = target_engine(name, url, connect_timeout=timeout)
        with engine.connect() as conn:
            conn.exec_driver_sql('SELECT 1').scalar()
    except Exception as exc:
        return False, messages.safe_message(exc, messages.url_secrets(url))
    finally:
        if engine is not None:
            engine.dispose()
    return True, None


class TargetChecker:
    """Records whether each configured target answers.

    With several workers, a non-blocking lock per target elects whichever
    gets there first, and a recent enough check by anyone is reused, so
    the targets see about one probe per interval however many workers
    run.
    """

    def __init__(self, dbapi):
        self.dbapi = dbapi

    def _recently_checked(self, name, interval):
        state = self.dbapi.get_target_states().get(name)
        if state is None or state.checked_at is None:
            return False
        fresh_until = state.checked_at + datetime.timedelta(
            seconds=interval / 2.0)
        return fresh_until > timeutils.utcnow()

    def check_all(self, force=False):
        """Check every target not checked lately; return {name: result}."""
        interval = CONF.worker.target_check_interval
        checked = {}
        for name in CONF.targets:
            group = target_conf.get_target(CONF, name)
            with coordination.lock('target-check-%s' % name,
                                   blocking=False) as mine:
                if not mine:
                    continue
                if not force and self._recently_checked(name, interval):
                    continue
                reachable, error = check_target(name, group.connection)
                self.dbapi.set_target_state(name, reachable, error)
                checked[name] = (reachable, error)
                if not reachable:
                    LOG.warning('Target %s is unreachable: %s', name, error)
        return checked
