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

"""Restore: put the rows an archive job took back into the source.

One batch of the archive job at a time, in one source transaction,
parents first. A key that exists in the source again is never
overwritten: that batch is refused and its keys named. Only after the
source has committed are the archived copies removed and the batch
marked restored, so a restore stopped anywhere can run again and
recognises what it already put back.
"""

import hashlib

from oslo_db import exception as db_exc
import sqlalchemy as sa

from cryptkeeper.purge import backends
from cryptkeeper.purge import errors
from cryptkeeper.purge import journal as journal_mod
from cryptkeeper.purge import rows as rows_mod

# Refusals listed in a result, and keys named per refusal: enough to act
# on, bounded however large the job was.
MAX_PROBLEMS = 50
MAX_KEYS = 20


def restore(engine, graph, backend, journal, progress=None, api=None):
    """Restore every done batch of ``journal``.

    :param engine: engine of the source (the target database).
    :param graph: the source's reflected purge graph (schema.Graph).
    :param backend: the archive backend the job archived into, opened on
        that job's archive.
    :param journal: the archive job's journal.
    :param progress: ``progress(tables, **extra)`` after each batch; it
        may raise to stop the restore between batches.
    :param api: optional ``(api_engine, api_graph, api_backend)`` to put
        back the nova API rows archived as follow-ups.
    :raises: errors.NothingToRestore when no batch is left to restore;
        the first refusal when not one batch could be restored.
    :returns: a JSON-serialisable result.
    """
    # A batch settled empty (its rows were chosen again later) has no
    # keys: there is nothing of it to put back.
    batches = [b for b in journal.batches(state=journal_mod.DONE)
               if any((b.keys or {}).values()) or
               any(any(t.values()) for t in (b.followup or {}).values())]
    if not batches:
        raise errors.NothingToRestore(
            'The job has no archived batch left to restore: it archived '
            'nothing, or its rows were restored already.')
    tables = {}
    follow = {}
    problems = []
    skipped_followups = 0
    sums = {}
    done = 0
    for batch in batches:
        try:
            counts = _restore_tree(engine, graph, backend, batch.seq,
                                   batch.keys, batch.checksums)
        except (errors.RestoreConflict, errors.VerificationFailed,
                errors.SchemaMismatch) as exc:
            problems.append(_problem(batch, None, exc))
            continue
        for name, n in counts.items():
            tables.setdefault(name, {'restored': 0})['restored'] += n
            checksum = _checksum(batch.checksums.get(name))
            if checksum:
                sums.setdefault(name, []).append(checksum)
        complete = True
        for target, keys in sorted((batch.followup or {}).items()):
            if not any(keys.values()):
                continue
            if api is None:
                skipped_followups += sum(len(k) for k in keys.values())
                complete = False
                continue
            api_engine, api_graph, api_backend = api
            try:
                counts = _restore_tree(api_engine, api_graph, api_backend,
                                       batch.seq, keys, {})
            except (errors.RestoreConflict, errors.VerificationFailed,
                    errors.SchemaMismatch) as exc:
                problems.append(_problem(batch, target, exc))
                complete = False
                continue
            per_target = follow.setdefault(target, {})
            for name, n in counts.items():
                per_target.setdefault(name, {'restored': 0})['restored'] += n
        if complete:
            # Left done otherwise: a later restore (with the API target,
            # or after the conflict is settled) finds the batch again and
            # sees its source rows are back already.
            journal.mark_restored(batch)
        done += 1
        if progress is not None:
            progress(_copy(tables), batches=done, followups=_copy(follow))

    if not done:
        first = problems[0]['error']
        exc = type(first)(
            'Not one batch could be restored (%d refused); the first: %s'
            % (len(problems), first.message))
        exc.conflicts = getattr(first, 'conflicts', None)
        raise exc
    result = {
        'tables': tables,
        'totals': {'restored': sum(t['restored'] for t in tables.values())},
        'batches': done,
        'location': backend.location(),
        'checksums': {name: _combine(values)
                      for name, values in sorted(sums.items())},
        'followups': follow,
        'outcome': 'succeeded',
    }
    reasons = []
    if problems:
        result['refused'] = [{k: v for k, v in p.items() if k != 'error'}
                             for p in problems[:MAX_PROBLEMS]]
        result['refused_batches'] = len(problems)
        reasons.append('%d batch(es) refused; first: %s'
                       % (len(problems), problems[0]['message']))
    if skipped_followups:
        result['followups'] = dict(follow, skipped=(
            'no API database target given: %d follow-up rows stay '
            'archived and their batches stay open to a later restore'
            % skipped_followups))
        reasons.append(result['followups']['skipped'])
    if reasons:
        result['outcome'] = 'partial'
        result['reason'] = '; '.join(reasons)
    return result


def _copy(tables):
    return {name: dict(counts) for name, counts in tables.items()}


def _checksum(value):
    if isinstance(value, dict):
        return value.get('sha256')
    return value


def _combine(values):
    """One SHA-256 over a table's per-batch checksums, in batch order."""
    h = hashlib.sha256()
    for value in values:
        h.update(value.encode('ascii'))
        h.update(b'\n')
    return h.hexdigest()


def _problem(batch, target, exc):
    problem = {'batch': batch.seq, 'kind': type(exc).__name__,
               'message': exc.message, 'error': exc}
    if target:
        problem['target'] = target
    if getattr(exc, 'conflicts', None):
        problem['conflicts'] = exc.conflicts
    return problem


def _restore_tree(engine, graph, backend, seq, keys, checksums):
    """Restore one batch's rows of one database; return counts per table.

    :raises: RestoreConflict, VerificationFailed, SchemaMismatch; the
        source is then left as it was.
    """
    names = [name for name, k in keys.items() if k]
    unknown = sorted(set(names) - set(graph.tables))
    if unknown:
        raise errors.SchemaMismatch(
            'Batch %d holds rows of tables the source no longer has: %s.'
            % (seq, ', '.join(unknown)))
    # delete_order is children first; rows go back the other way round.
    order = list(reversed(graph.delete_order(names)))
    order += [n for n in names if n not in order]
    archived = {name: backend.contains(graph.tables[name], keys[name])
                for name in order}
    with engine.begin() as conn:
        present = {name: _source_rows(conn, graph.tables[name], keys[name])
                   for name in order}
        if not any(archived.values()):
            missing = {n: len(keys[n]) - len(present[n]) for n in order
                       if len(present[n]) != len(keys[n])}
            if missing:
                raise errors.VerificationFailed(
                    'The archive no longer holds the rows of batch %d '
                    '(expired, or removed by hand?); %s not in the source '
                    'either.' % (seq, ', '.join(
                        '%d of %s' % (n, t) for t, n in missing.items())))
            # A restore before this one committed the rows and removed
            # every archived copy; only the journal did not hear of it.
            return {name: len(keys[name]) for name in order}
        if any(present.values()):
            _settled_or_conflict(graph, backend, seq, keys, checksums,
                                 present, archived)
        else:
            _insert(conn, graph, backend, seq, keys, checksums, order)
    for name in order:
        backend.remove(graph.tables[name], keys[name])
    return {name: len(keys[name]) for name in order}


def _source_rows(conn, table, keys):
    columns = backends.pk_columns(table)
    found = []
    for chunk in backends.chunks(
            [backends.decode_key(columns, k) for k in keys]):
        stmt = sa.select(table).where(backends.keys_clause(columns, chunk))
        found.extend(dict(r) for r in conn.execute(stmt).mappings())
    return found


def _settled_or_conflict(graph, backend, seq, keys, checksums, present,
                         archived):
    """Rows are in the source: ours from an earlier attempt, or not.

    Ours when every key of every table is there with exactly the content
    archived; anything else is a conflict, never overwritten.
    """
    settled = True
    for name, rows in present.items():
        table = graph.tables[name]
        pk = [c.name for c in backends.pk_columns(table)]
        if len(rows) != len(keys[name]):
            settled = False
            break
        expected = _checksum(checksums.get(name))
        if expected is None and archived[name] == len(keys[name]):
            expected = rows_mod.digest(
                list(backend.read(table, keys[name])), pk)[1]
        if expected is not None and rows_mod.digest(rows, pk)[1] != expected:
            settled = False
            break
    if settled:
        return
    conflicts = []
    for name, rows in present.items():
        if rows:
            pk = [c.name for c in backends.pk_columns(graph.tables[name])]
            conflicts.append((name, [rows_mod.key_of(r, pk) for r in rows]))
    exc = errors.RestoreConflict(
        'Batch %d not restored: keys exist in the source again (%s). '
        'Nothing was overwritten; the rows stay archived.'
        % (seq, '; '.join('%s: %s' % (name, backends.show_keys(k, MAX_KEYS))
                          for name, k in conflicts)))
    exc.conflicts = {name: [rows_mod.plain_key(k) for k in k_list[:MAX_KEYS]]
                     for name, k_list in conflicts}
    raise exc


def _insert(conn, graph, backend, seq, keys, checksums, order):
    for name in order:
        table = graph.tables[name]
        pk = [c.name for c in backends.pk_columns(table)]
        rows = [dict(r) for r in backend.read(table, keys[name])]
        count, sha = rows_mod.digest(rows, pk)
        expected = _checksum(checksums.get(name))
        if count != len(keys[name]) or (expected and sha != expected):
            raise errors.VerificationFailed(
                'Batch %d: the archive holds %d of the %d rows of %s%s; '
                'nothing of the batch was restored.'
                % (seq, count, len(keys[name]), name,
                   ' with another checksum' if count == len(keys[name])
                   else ''))
        unknown = sorted({c for r in rows for c in r} - set(table.c.keys()))
        if unknown:
            raise errors.SchemaMismatch(
                'Batch %d: archived rows of %s have columns the source no '
                'longer has: %s.' % (seq, name, ', '.join(unknown)))
        try:
            conn.execute(table.insert(), rows)
        except (sa.exc.IntegrityError, db_exc.DBDuplicateEntry,
                db_exc.DBReferenceError) as exc:
            # A row came in between our check and this insert, or a
            # parent the rows need is gone: refuse, as for any conflict.
            raise errors.RestoreConflict(
                'Batch %d not restored: the source refused rows of %s '
                '(%s). Nothing was overwritten; the rows stay archived.'
                % (seq, name, str(exc).splitlines()[0][:300])) from None
