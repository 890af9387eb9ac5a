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

"""Purge mode: delete archived copies once they are past the retention.

Only the archive is touched, never the source. A row's age is the one
the profile gives its table (deleted_at, or created_at/updated_at where
the profile says so), as ``nova-manage db purge --before`` measures it.
"""

import datetime

from oslo_utils import timeutils

from cryptkeeper.purge import errors
from cryptkeeper.purge import params as params_mod


def scope(graph, tables=None):
    """Tables whose archived copies a purge job may delete, children first.

    Named tables bring the tables archived along with them, so a purge of
    ``instances`` does not leave their metadata behind in the archive.
    """
    names = set(graph.tables)
    if tables:
        unknown = sorted(set(tables) - names)
        if unknown:
            raise errors.UnknownTable(
                'Table(s) %s not in the target\'s schema.'
                % ', '.join(unknown))
        names = set(graph.reachable(tables)) | set(tables)
    try:
        return graph.delete_order(names)
    except errors.PurgeError:
        # The archive has no foreign keys: a cycle in the source does not
        # matter here.
        return sorted(names)


def expire(backend, graph, params, progress=None, sleep=None, now=None):
    """Delete archived rows older than ``params.retention_days``.

    One bounded call of ``backend.expire`` after another (at most
    ``params.batch_size`` rows each, or one file), per table, until none
    is left.

    :param progress: ``progress(tables, **extra)`` after each call; it may
        raise to stop.
    :param sleep: ``sleep(seconds) -> interrupted`` for the pause and the
        rate limit between calls; without it there is no wait.
    :returns: a JSON-serialisable result; per table ``deleted``.
    """
    now = now or getattr(params, 'now', None) or timeutils.utcnow()
    days = params.retention_days
    if days is None:
        days = params_mod.DEFAULT_RETENTION
    cutoff = now - datetime.timedelta(days=days)
    limit = params.batch_size
    bind = getattr(backend, 'bind_graph', None)
    if bind is not None:
        bind(graph)
    tables = {}
    calls = 0
    interrupted = False
    for name in scope(graph, params.tables):
        table_cutoff = cutoff
        cutoff_for = getattr(graph, 'cutoff_for', None)
        if cutoff_for is not None:
            # Opt-in tables (glance images) keep their longer retention.
            table_cutoff = min(cutoff, cutoff_for(name, cutoff, now))
        while not interrupted:
            deleted = backend.expire(graph.tables[name], table_cutoff, limit)
            if not deleted:
                break
            calls += 1
            tables.setdefault(name, {'deleted': 0})['deleted'] += deleted
            if progress is not None:
                progress({n: dict(c) for n, c in tables.items()},
                         batches=calls)
            interrupted = _wait(sleep, params, deleted)
        if interrupted:
            break
    result = {
        'tables': tables,
        'totals': {'deleted': sum(t['deleted'] for t in tables.values())},
        'batches': calls,
        'location': backend.location(),
        'cutoff': cutoff.isoformat(),
        'retention_days': days,
        'outcome': 'succeeded',
    }
    if interrupted:
        result['outcome'] = 'partial'
        result['reason'] = ('Interrupted before every archived row past '
                            'the retention was deleted.')
    return result


def _wait(sleep, params, rows):
    if sleep is None:
        return False
    seconds = getattr(params, 'pause', 0) or 0
    rate = getattr(params, 'max_rows_per_second', None)
    if rate:
        seconds = max(seconds, rows / float(rate))
    if seconds <= 0:
        return False
    return bool(sleep(seconds))
