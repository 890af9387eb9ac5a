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

"""The pure decision: may each base file of a storage go, and why (not)."""

import collections.abc
import dataclasses
import datetime

from cryptkeeper.imagecache import basefiles

IN_USE = 'in_use'
REFUSED = 'refused'
CANDIDATE = 'candidate'
QUARANTINE = 'quarantine'
DELETE = 'delete'
VERDICTS = (IN_USE, REFUSED, CANDIDATE, QUARANTINE, DELETE)
APPROVALS = (QUARANTINE, DELETE)

ACTION_REPORT = 'report'
ACTION_GUARD = 'guard'
ACTION_QUARANTINE = 'quarantine'
ACTION_DELETE = 'delete'
ACTIONS = (ACTION_REPORT, ACTION_GUARD, ACTION_QUARANTINE, ACTION_DELETE)

# Storage-wide problems are named one by one up to this many; a broken
# share can report thousands, and each verdict repeats the list.
MAX_LISTED_PROBLEMS = 5

_UTC = datetime.timezone.utc


@dataclasses.dataclass(frozen=True)
class Policy:
    """Per-storage settings. Defaults follow Nova's image cache options."""

    action: str = ACTION_REPORT
    min_age_original: float = 86400
    min_age_resized: float = 3600
    interval: float = 2400
    grace_period: float = 7 * 86400

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError('action must be one of %s, not %r'
                             % (', '.join(ACTIONS), self.action))
        for field in ('min_age_original', 'min_age_resized',
                      'grace_period'):
            if getattr(self, field) < 0:
                raise ValueError('%s must not be negative' % field)
        if self.interval <= 0:
            raise ValueError('interval must be positive')


@dataclasses.dataclass(frozen=True)
class HostState:
    """Liveness of one member host: up, down, or None for unknown."""

    up: bool | None
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class FileHistory:
    """What earlier sweeps decided about one file.

    ``candidate_since`` is the sweep that began the file's current
    unbroken run of candidate verdicts (None if it is not in one),
    ``candidate_since_all_up`` whether every member was up then, and
    ``size``/``mtime`` the file as it was then. ``quarantined_at`` is
    when the agent moved it to quarantine (None if it is not there).
    Feed each FileVerdict.history back in at the next sweep.
    """

    candidate_since: datetime.datetime | None = None
    candidate_since_all_up: bool = False
    last_candidate_at: datetime.datetime | None = None
    size: int | None = None
    mtime: float | None = None
    quarantined_at: datetime.datetime | None = None

    _TIMES = ('candidate_since', 'last_candidate_at', 'quarantined_at')

    def to_dict(self):
        """Plain data (ISO 8601 times) for storing between sweeps."""
        data = dataclasses.asdict(self)
        for field in self._TIMES:
            if data[field] is not None:
                data[field] = _utc(data[field]).isoformat()
        return data

    @classmethod
    def from_dict(cls, data):
        values = dict(data)
        for field in cls._TIMES:
            if values.get(field) is not None:
                values[field] = _utc(
                    datetime.datetime.fromisoformat(values[field]))
        return cls(**values)


@dataclasses.dataclass
class FileVerdict:
    """The decision about one file, every reason for it, and its history."""

    name: str
    kind: str
    verdict: str
    reasons: list
    size: int | None = None
    mtime: float | None = None
    quarantined: bool = False
    restore: bool = False
    guard: bool = False
    history: FileHistory | None = None

    @property
    def approved(self):
        return self.verdict in APPROVALS


@dataclasses.dataclass
class SweepVerdict:
    """All verdicts of one sweep and the storage-wide refusal reasons."""

    at: datetime.datetime
    all_members_up: bool
    storage_reasons: list
    files: dict

    def history(self):
        """The history to pass to the next sweep."""
        return {name: fv.history for name, fv in self.files.items()}


def _utc(value):
    if value is None:
        return None
    if value.tzinfo is None:
        # oslo's utcnow() and most databases hand back naive UTC.
        return value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def _fmt(value):
    return value.astimezone(_UTC).strftime('%Y-%m-%d %H:%M:%S')


def _fmt_ts(timestamp):
    return _fmt(datetime.datetime.fromtimestamp(timestamp, _UTC))


def _host_state(value):
    if isinstance(value, HostState):
        return value
    if isinstance(value, tuple):
        return HostState(*value)
    if value is None or isinstance(value, bool):
        return HostState(value)
    raise TypeError('liveness values are HostState, bool, None or '
                    '(up, reason), not %r' % (value,))


def _as_mapping(refs):
    """Normalise references/pins to {key: [who, ...]}."""
    if refs is None:
        return {}
    if isinstance(refs, collections.abc.Mapping):
        return {key: sorted(who) if not isinstance(who, str) else [who]
                for key, who in refs.items()}
    return {key: [] for key in refs}


def _keys_for(name, classified):
    # A reference names a file directly, or names its image by id (we
    # hash it) or by fingerprint; any of these protects the file.
    keys = [name]
    if classified.image_hash:
        keys.append(classified.image_hash)
    return keys


def _index_by_hash(refs):
    """Map fingerprints to the reference keys that protect them.

    Each key is hashed as if it were an image id; a key that names a
    resized or legacy file also protects its original (and siblings),
    because Nova rebuilds a missing resized file from the original.
    """
    index = {}
    for key in refs:
        index.setdefault(basefiles.image_id_hash(key), []).append(key)
        image_hash = basefiles.classify(key).image_hash
        if image_hash:
            index.setdefault(image_hash, []).append(key)
    return index


def _matches(name, classified, refs, hashed):
    found = []
    for key in _keys_for(name, classified):
        if key in refs:
            found.append(key)
    if classified.image_hash and classified.image_hash in hashed:
        found.extend(hashed[classified.image_hash])
    return sorted(set(found))


def _who(refs, key):
    who = refs.get(key) or []
    return ' (%s)' % ', '.join(who) if who else ''


def _storage_reasons(scan, liveness, membership_problems):
    reasons = []
    if not liveness:
        reasons.append('no member hosts are known for this storage; its '
                       'membership is uncertain')
    for host in sorted(liveness):
        state = liveness[host]
        if state.up is True:
            continue
        if state.reason:
            reasons.append(state.reason)
        elif state.up is False:
            reasons.append('host %s is down' % host)
        else:
            reasons.append('host %s: liveness unknown' % host)
    for problem in membership_problems:
        reasons.append('storage membership is uncertain: %s' % problem)
    problems = list(scan.problems)
    if problems:
        shown = ', '.join('%s: %s' % (p.path, p.reason)
                          for p in problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        tail = ' and %d more' % more if more > 0 else ''
        reasons.append('the scan of this storage is uncertain (%d '
                       'problem%s): %s%s'
                       % (len(problems), '' if len(problems) == 1 else 's',
                          shown, tail))
    return reasons


def decide(scan, *, liveness, now, db_references=None, pins=None,
           history=None, policy=None, membership_problems=()):
    """Judge every base file of one storage.

    ``scan`` is a ScanResult. ``liveness`` maps each member host to a
    HostState (or bool/None/(up, reason)). ``db_references`` and
    ``pins`` are iterables of base file names, image ids or image
    fingerprints, or mappings of them to who references them.
    ``history`` maps file names to the FileHistory of the last sweep.
    ``membership_problems`` are reasons the member list may be
    incomplete (a corrupt registry file). ``now`` is a datetime
    (naive means UTC).

    Fails closed: any doubt about the storage refuses every file that is
    not in use, and nothing is approved under the report or guard
    actions.
    """
    policy = policy or Policy()
    now = _utc(now)
    now_ts = now.timestamp()
    history = history or {}
    liveness = {host: _host_state(v) for host, v in (liveness or {}).items()}
    db_refs = _as_mapping(db_references)
    pin_refs = _as_mapping(pins)
    db_hashed = _index_by_hash(db_refs)
    pin_hashed = _index_by_hash(pin_refs)
    storage_reasons = _storage_reasons(scan, liveness,
                                       list(membership_problems))
    all_up = bool(liveness) and all(s.up is True
                                    for s in liveness.values())
    approving = policy.action in (ACTION_QUARANTINE, ACTION_DELETE)

    names = set(scan.base_files)
    quarantined = {name for name, h in history.items()
                   if h is not None and h.quarantined_at is not None}
    # A quarantined file with the same name as one back in the base
    # directory is judged as the live file; its quarantined copy waits.
    names.update(quarantined)

    files = {}
    for name in sorted(names):
        base = scan.base_files.get(name)
        in_quarantine = base is None
        prev = history.get(name) or FileHistory()
        classified = basefiles.classify(name)
        size = base.size if base else prev.size
        mtime = base.mtime if base else prev.mtime
        quarantined_at = _utc(prev.quarantined_at) if in_quarantine else None

        in_use = []
        for who in scan.references.get(name, ()):
            in_use.append('backing chain of %s reaches it' % who)
        for key in _matches(name, classified, db_refs, db_hashed):
            in_use.append('referenced in the database by %r%s'
                          % (key, _who(db_refs, key)))
        for key in _matches(name, classified, pin_refs, pin_hashed):
            in_use.append('pinned as %r%s' % (key, _who(pin_refs, key)))

        fv = FileVerdict(name=name, kind=classified.kind, verdict=IN_USE,
                         reasons=[], size=size, mtime=mtime,
                         quarantined=in_quarantine)
        next_history = FileHistory(size=size, mtime=mtime,
                                   quarantined_at=quarantined_at)
        if in_use:
            fv.reasons = in_use
            if in_quarantine:
                fv.restore = True
                fv.reasons.append('quarantined at %s; restore it'
                                  % _fmt(quarantined_at))
            fv.guard = policy.action == ACTION_GUARD and not all_up
            fv.history = next_history
            files[name] = fv
            continue

        refused = list(storage_reasons)
        if not basefiles.is_candidate_kind(classified.kind):
            refused.append('not a name Nova gives a base file; never '
                           'removed')
        if mtime is None:
            refused.append('modification time unknown')
        else:
            min_age = (policy.min_age_resized
                       if classified.kind in basefiles.RESIZED_AGE_KINDS
                       else policy.min_age_original)
            age = now_ts - mtime
            if age < min_age:
                refused.append(
                    'modified at %s, younger than the minimum age of %d s '
                    '(old enough from %s)'
                    % (_fmt_ts(mtime), min_age, _fmt_ts(mtime + min_age)))
        since = _utc(prev.candidate_since)
        last = _utc(prev.last_candidate_at)
        for earlier in (since, last, quarantined_at):
            if earlier is not None and earlier > now:
                refused.append('the clock is behind an earlier sweep (%s); '
                               'waiting for it to catch up' % _fmt(earlier))
                break
        if refused:
            fv.verdict = REFUSED
            fv.reasons = refused
            fv.history = next_history
            files[name] = fv
            continue

        # A candidate run counts only if nothing about the file changed:
        # a new mtime means some host used it in between.
        continuing = (since is not None and prev.candidate_since_all_up
                      and prev.size == size and prev.mtime == mtime)
        if not continuing:
            since = now
        fv.verdict = CANDIDATE
        fv.history = FileHistory(candidate_since=since,
                                 candidate_since_all_up=all_up,
                                 last_candidate_at=now, size=size,
                                 mtime=mtime, quarantined_at=quarantined_at)
        reasons = ['unreferenced: no backing chain, database reference or '
                   'pin; every member host up',
                   'a candidate since %s' % _fmt(since)]
        if in_quarantine:
            grace_end = quarantined_at.timestamp() + policy.grace_period
            reasons.append('quarantined at %s' % _fmt(quarantined_at))
            if policy.action != ACTION_DELETE:
                reasons.append('action is %s: quarantined files are kept'
                               % policy.action)
            elif now_ts < grace_end:
                reasons.append('grace period runs until %s'
                               % _fmt_ts(grace_end))
            else:
                fv.verdict = DELETE
                reasons.append('grace period of %d s over since %s; '
                               'approved for deletion'
                               % (policy.grace_period, _fmt_ts(grace_end)))
        else:
            ready = since.timestamp() + policy.interval
            if not approving:
                reasons.append('action is %s: nothing is approved'
                               % policy.action)
            elif not continuing or now_ts < ready:
                reasons.append('may be quarantined from %s if it stays a '
                               'candidate' % _fmt_ts(ready))
            else:
                fv.verdict = QUARANTINE
                reasons.append('still a candidate one full interval (%d s) '
                               'later with every member up; approved for '
                               'quarantine' % policy.interval)
        fv.reasons = reasons
        files[name] = fv

    return SweepVerdict(at=now, all_members_up=all_up,
                        storage_reasons=storage_reasons, files=files)
