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

"""The verdict function: in use, refused, candidate, and the two phases."""

import datetime
import os

import fixtures
import hypothesis
from hypothesis import strategies as st
import testtools

from cryptkeeper.imagecache import basefiles
from cryptkeeper.imagecache import scan
from cryptkeeper.imagecache import verdict
from cryptkeeper.tests.unit.imagecache import images

UTC = datetime.timezone.utc
NOW = datetime.datetime(2012, 12, 20, 12, 0, 0, tzinfo=UTC)
DAY = 86400
IMAGE = 'a2d8f7e0-5b1c-4d3e-9f6a-0b1c2d3e4f50'
H1 = basefiles.image_id_hash(IMAGE)
H2 = basefiles.image_id_hash('image-2')
C03_DOWN = ('host c03 down since 2012-12-19 12:10:59, last seen by '
            'nova-compute')
UP = verdict.HostState(True, 'up')


def make_scan(files, references=None, problems=()):
    """A ScanResult built directly, without files.

    The verdict is pure, so files are not needed to test it; the
    real-file case is DairCaseTest.
    """
    result = scan.ScanResult(instances_path='/i', base_subdirectory='_base')
    for name, age in files.items():
        result.base_files[name] = scan.BaseFile(
            name=name, kind=basefiles.classify(name).kind, size=1024,
            mtime=NOW.timestamp() - age)
    result.references = {k: list(v) for k, v in (references or {}).items()}
    for name, refs in result.references.items():
        if name in result.base_files:
            result.base_files[name].referenced_by = refs
    result.problems = [scan.Problem(p, 'broken') for p in problems]
    return result


class VerdictTest(testtools.TestCase):

    def decide(self, scan_result, **kwargs):
        kwargs.setdefault('liveness', {'c01': UP, 'c03': UP})
        kwargs.setdefault('now', NOW)
        return verdict.decide(scan_result, **kwargs)

    def test_in_use_by_chain_db_and_pin(self):
        result = self.decide(
            make_scan({H1: 2 * DAY, H1 + '_10': 2 * DAY, H2: 2 * DAY,
                       'swap_512': 2 * DAY},
                      references={'swap_512': ['inst-a/disk.swap']}),
            db_references={IMAGE: ['inst-b on c03']},
            pins=[H2],
            liveness={'c01': UP, 'c03': verdict.HostState(False, C03_DOWN)})
        files = result.files
        for name in (H1, H1 + '_10', H2, 'swap_512'):
            self.assertEqual(verdict.IN_USE, files[name].verdict, name)
        self.assertIn("referenced in the database by %r (inst-b on c03)"
                      % IMAGE, files[H1 + '_10'].reasons)
        self.assertEqual(['backing chain of inst-a/disk.swap reaches it'],
                         files['swap_512'].reasons)
        self.assertEqual(["pinned as %r" % H2], files[H2].reasons)

    def test_db_reference_by_file_name_or_fingerprint(self):
        files = self.decide(
            make_scan({H1 + '_10': 2 * DAY, H1: 2 * DAY, H2: 2 * DAY,
                       'ephemeral_1_abc': 2 * DAY}),
            db_references={H1 + '_10', 'ephemeral_1_abc'},
            pins={H2: 'admin'}).files
        # A resized file's reference also keeps its original.
        self.assertEqual(verdict.IN_USE, files[H1].verdict)
        self.assertEqual(verdict.IN_USE, files[H1 + '_10'].verdict)
        self.assertEqual(verdict.IN_USE, files['ephemeral_1_abc'].verdict)
        self.assertEqual(["pinned as %r (admin)" % H2], files[H2].reasons)

    def test_host_down_refuses_with_its_reason(self):
        files = self.decide(
            make_scan({H1 + '_10': 2 * DAY}),
            liveness={'c01': UP,
                      'c03': verdict.HostState(False, C03_DOWN),
                      'c04': None}).files
        fv = files[H1 + '_10']
        self.assertEqual(verdict.REFUSED, fv.verdict)
        self.assertIn(C03_DOWN, fv.reasons)
        self.assertIn('host c04: liveness unknown', fv.reasons)

    def test_refusals_are_all_listed(self):
        files = self.decide(
            make_scan({H1: 60, 'lost+found': 2 * DAY},
                      problems=['/i/x/disk'] + ['/i/p%d' % n
                                                for n in range(9)]),
            liveness={'c01': (False, '')},
            membership_problems=['compute_nodes is not valid JSON']).files
        reasons = files[H1].reasons
        self.assertEqual(verdict.REFUSED, files[H1].verdict)
        self.assertIn('host c01 is down', reasons)
        self.assertIn('storage membership is uncertain: compute_nodes is '
                      'not valid JSON', reasons)
        self.assertTrue(any('uncertain (10 problems): /i/x/disk: broken'
                            in r and 'and 5 more' in r for r in reasons))
        self.assertTrue(any('younger than the minimum age of 86400 s' in r
                            for r in reasons))
        self.assertIn('not a name Nova gives a base file; never removed',
                      files['lost+found'].reasons)

    def test_no_members_is_uncertain(self):
        fv = self.decide(make_scan({H1: 2 * DAY}), liveness={}).files[H1]
        self.assertEqual(verdict.REFUSED, fv.verdict)
        self.assertIn('membership is uncertain', fv.reasons[0])

    def test_min_ages_by_kind(self):
        policy = verdict.Policy(action='quarantine')
        files = self.decide(
            make_scan({H1: 2 * 3600, H1 + '_10': 2 * 3600,
                       H1 + '_sm': 2 * 3600, 'swap_1': 2 * 3600,
                       H2 + '_10': 1800}), policy=policy).files
        self.assertEqual(verdict.REFUSED, files[H1].verdict)
        self.assertEqual(verdict.REFUSED, files['swap_1'].verdict)
        self.assertEqual(verdict.CANDIDATE, files[H1 + '_10'].verdict)
        self.assertEqual(verdict.CANDIDATE, files[H1 + '_sm'].verdict)
        self.assertEqual(verdict.REFUSED, files[H2 + '_10'].verdict)

    def test_mtime_in_the_future_is_refused(self):
        fv = self.decide(make_scan({H1: -3600})).files[H1]
        self.assertEqual(verdict.REFUSED, fv.verdict)

    def test_report_never_approves(self):
        storage = make_scan({H1: 30 * DAY})
        first = self.decide(storage)
        later = self.decide(storage, history=first.history(),
                            now=NOW + datetime.timedelta(days=30))
        fv = later.files[H1]
        self.assertEqual(verdict.CANDIDATE, fv.verdict)
        self.assertIn('action is report: nothing is approved', fv.reasons)
        self.assertEqual(NOW, fv.history.candidate_since)

    def test_two_sweeps_one_interval_apart(self):
        policy = verdict.Policy(action='quarantine', interval=2400)
        storage = make_scan({H1: 30 * DAY})
        first = self.decide(storage, policy=policy)
        self.assertEqual(verdict.CANDIDATE, first.files[H1].verdict)
        early = self.decide(storage, policy=policy, history=first.history(),
                            now=NOW + datetime.timedelta(seconds=2399))
        self.assertEqual(verdict.CANDIDATE, early.files[H1].verdict)
        self.assertIn('may be quarantined from 2012-12-20 12:40:00 if it '
                      'stays a candidate', early.files[H1].reasons)
        on_time = self.decide(storage, policy=policy,
                              history=early.history(),
                              now=NOW + datetime.timedelta(seconds=2400))
        self.assertEqual(verdict.QUARANTINE, on_time.files[H1].verdict)
        self.assertTrue(on_time.files[H1].approved)

    def test_a_down_host_between_sweeps_restarts_the_count(self):
        policy = verdict.Policy(action='quarantine', interval=2400)
        storage = make_scan({H1: 30 * DAY})
        first = self.decide(storage, policy=policy)
        down = self.decide(storage, policy=policy, history=first.history(),
                           liveness={'c03': (False, C03_DOWN)},
                           now=NOW + datetime.timedelta(seconds=1200))
        self.assertEqual(verdict.REFUSED, down.files[H1].verdict)
        after = self.decide(storage, policy=policy, history=down.history(),
                            now=NOW + datetime.timedelta(seconds=4800))
        self.assertEqual(verdict.CANDIDATE, after.files[H1].verdict)

    def test_changed_mtime_restarts_the_count(self):
        policy = verdict.Policy(action='quarantine', interval=2400)
        first = self.decide(make_scan({H1: 30 * DAY}), policy=policy)
        touched = make_scan({H1: 29 * DAY})
        later = self.decide(touched, policy=policy, history=first.history(),
                            now=NOW + datetime.timedelta(days=1))
        self.assertEqual(verdict.CANDIDATE, later.files[H1].verdict)

    def test_clock_going_backwards_refuses(self):
        policy = verdict.Policy(action='quarantine')
        storage = make_scan({H1: 30 * DAY})
        first = self.decide(storage, policy=policy)
        back = self.decide(storage, policy=policy, history=first.history(),
                           now=NOW - datetime.timedelta(hours=1))
        self.assertEqual(verdict.REFUSED, back.files[H1].verdict)

    def test_quarantined_file_deleted_after_grace_only_with_delete(self):
        quarantined = verdict.FileHistory(
            candidate_since=NOW - datetime.timedelta(days=3),
            candidate_since_all_up=True, size=1024,
            mtime=NOW.timestamp() - 30 * DAY,
            quarantined_at=NOW - datetime.timedelta(days=2))
        storage = make_scan({})
        history = {H1: quarantined}
        grace = verdict.Policy(action='delete', grace_period=3 * DAY)
        fv = self.decide(storage, policy=grace, history=history).files[H1]
        self.assertEqual(verdict.CANDIDATE, fv.verdict)
        self.assertTrue(fv.quarantined)
        self.assertIn('grace period runs until 2012-12-21 12:00:00',
                      fv.reasons)
        over = verdict.Policy(action='delete', grace_period=DAY)
        fv = self.decide(storage, policy=over, history=history).files[H1]
        self.assertEqual(verdict.DELETE, fv.verdict)
        keep = verdict.Policy(action='quarantine', grace_period=DAY)
        fv = self.decide(storage, policy=keep, history=history).files[H1]
        self.assertEqual(verdict.CANDIDATE, fv.verdict)
        fv = self.decide(storage, policy=over, history=history,
                         liveness={'c03': (False, C03_DOWN)}).files[H1]
        self.assertEqual(verdict.REFUSED, fv.verdict)

    def test_quarantined_file_with_a_new_reference_is_restored(self):
        history = {H1: verdict.FileHistory(
            quarantined_at=NOW - datetime.timedelta(days=30),
            mtime=0, size=1)}
        fv = self.decide(make_scan({}, references={H1: ['inst-z/disk']}),
                         policy=verdict.Policy(action='delete'),
                         history=history).files[H1]
        self.assertEqual(verdict.IN_USE, fv.verdict)
        self.assertTrue(fv.restore)

    def test_guard_flags_in_use_files_while_a_host_is_down(self):
        fv = self.decide(make_scan({H1: DAY}),
                         db_references=[IMAGE],
                         liveness={'c03': (False, C03_DOWN)},
                         policy=verdict.Policy(action='guard')).files[H1]
        self.assertTrue(fv.guard)

    def test_policy_validation(self):
        self.assertRaises(ValueError, verdict.Policy, action='purge')
        self.assertRaises(ValueError, verdict.Policy, interval=0)
        self.assertRaises(ValueError, verdict.Policy, grace_period=-1)

    def test_history_round_trip(self):
        first = self.decide(make_scan({H1: 30 * DAY}))
        data = first.files[H1].history.to_dict()
        self.assertEqual('2012-12-20T12:00:00+00:00', data['candidate_since'])
        self.assertEqual(first.files[H1].history,
                         verdict.FileHistory.from_dict(data))

    def test_naive_now_is_utc(self):
        fv = self.decide(make_scan({H1: 30 * DAY}),
                         now=NOW.replace(tzinfo=None)).files[H1]
        self.assertEqual(NOW, fv.history.candidate_since)


class DairCaseTest(testtools.TestCase):
    """The "Disappearing Images" case on real files made by qemu-img."""

    def test_down_host_then_orphan_directory_then_gone(self):
        images.require_qemu_img(self)
        root = os.path.join(self.useFixture(fixtures.TempDir()).path, 'i')
        storage = images.Storage(root)
        storage.raw_base(H1)
        storage.qcow2_base(H1 + '_10', backing=H1, size='10G')
        storage.disk('inst-on-c03', backing=H1 + '_10', backing_fmt='qcow2')
        old = NOW.timestamp() - 30 * DAY
        for name in (H1, H1 + '_10'):
            os.utime(storage.base_path(name), (old, old))
        policy = verdict.Policy(action='delete', interval=2400)
        down = {'c01': UP, 'c03': verdict.HostState(False, C03_DOWN)}
        up = {'c01': UP, 'c03': UP}

        # c03 is down and its instance is in the database: in use, and
        # the scan alone would say so too.
        sweep = verdict.decide(scan.scan(root), liveness=down, now=NOW,
                               db_references={IMAGE: ['inst-on-c03']},
                               policy=policy)
        self.assertEqual(verdict.IN_USE, sweep.files[H1 + '_10'].verdict)
        # Deleted in the database, directory still on the share.
        sweep = verdict.decide(scan.scan(root), liveness=up, now=NOW,
                               policy=policy)
        self.assertEqual(verdict.IN_USE, sweep.files[H1 + '_10'].verdict)
        # Directory gone while c03 is down: refused, c03 named.
        os.unlink(os.path.join(root, 'inst-on-c03', 'disk'))
        sweep = verdict.decide(scan.scan(root), liveness=down, now=NOW,
                               policy=policy)
        self.assertEqual(verdict.REFUSED, sweep.files[H1 + '_10'].verdict)
        self.assertIn(C03_DOWN, sweep.files[H1 + '_10'].reasons)
        # Everyone up, two sweeps an interval apart: quarantine.
        first = verdict.decide(scan.scan(root), liveness=up, now=NOW,
                               policy=policy, history=sweep.history())
        self.assertEqual(verdict.CANDIDATE, first.files[H1 + '_10'].verdict)
        second = verdict.decide(scan.scan(root), liveness=up,
                                now=NOW + datetime.timedelta(hours=1),
                                policy=policy, history=first.history())
        self.assertEqual(verdict.QUARANTINE,
                         second.files[H1 + '_10'].verdict)


# ---- property-based: no approval may ever touch a protected file ----

NAMES = [basefiles.image_id_hash('img-%d' % n) for n in range(4)]
NAMES += [NAMES[0] + '_10', NAMES[1] + '_sm', 'swap_512',
          'ephemeral_1_abc', 'unknown.part']
HOSTS = ['c01', 'c02', 'c03']
INTERVAL = 600

events = st.one_of(
    st.tuples(st.just('host'), st.sampled_from(HOSTS),
              st.sampled_from([True, False, None])),
    st.tuples(st.just('create'), st.sampled_from(NAMES)),
    st.tuples(st.just('disk'), st.integers(0, 5), st.sampled_from(NAMES)),
    st.tuples(st.just('undisk'), st.integers(0, 5)),
    st.tuples(st.just('dbref'), st.sampled_from(NAMES + ['img-0', 'img-2'])),
    st.tuples(st.just('undbref'), st.integers(0, 9)),
    st.tuples(st.just('pin'), st.sampled_from(NAMES + ['img-1'])),
    st.tuples(st.just('unpin'), st.integers(0, 9)),
    st.tuples(st.just('problem'), st.booleans()),
    st.tuples(st.just('clock'), st.integers(-3600, 3 * DAY)),
    st.tuples(st.just('clock'), st.integers(INTERVAL - 1, 2 * INTERVAL)),
)
# Each round changes a few things, lets time pass, then sweeps: every
# example reaches the sweeps, and most reach the two-sweep approval path.
# "delete" is drawn most, since only it reaches the grace-period path.
rounds_strategy = st.lists(
    st.tuples(st.lists(events, max_size=3),
              st.one_of(st.integers(-600, 3 * INTERVAL),
                        st.integers(0, 2 * DAY)),
              st.sampled_from(verdict.ACTIONS
                              + (verdict.ACTION_DELETE,) * 3)),
    min_size=2, max_size=25)


def _protected(name, chains, db_refs, pins):
    keys = {name}
    image_hash = basefiles.classify(name).image_hash
    for key in db_refs | pins:
        hashes = {basefiles.image_id_hash(key),
                  basefiles.classify(key).image_hash}
        if image_hash and image_hash in hashes:
            return True
    return bool(keys & (set(chains.values()) | db_refs | pins))


class NeverDeleteInUseTest(testtools.TestCase):

    @hypothesis.settings(max_examples=400, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(
        st.dictionaries(st.sampled_from(NAMES), st.integers(0, 4 * DAY)),
        st.dictionaries(st.integers(0, 5), st.sampled_from(NAMES)),
        st.sets(st.sampled_from(NAMES + ['img-0', 'img-2'])),
        rounds_strategy, st.integers(0, 2 * DAY))
    def test_random_histories(self, ages, chains, db_refs, rounds, min_age):
        hosts = dict.fromkeys(HOSTS, True)
        # name -> mtime of the files in _base
        base = {name: NOW.timestamp() - age for name, age in ages.items()}
        quarantine = {}    # name -> quarantined_at
        # chains: disk number -> the base name its chain reaches
        pins = set()
        problem = False
        now = NOW
        history = {}
        candidates = {}    # name -> times of its current candidate run
        for changes, elapsed, action in rounds:
            for step in changes:
                kind = step[0]
                if kind == 'host':
                    hosts[step[1]] = step[2]
                elif kind == 'create':
                    base.setdefault(step[1], now.timestamp())
                elif kind == 'disk':
                    chains[step[1]] = step[2]
                elif kind == 'undisk':
                    chains.pop(step[1], None)
                elif kind == 'dbref':
                    db_refs.add(step[1])
                elif kind == 'undbref' and db_refs:
                    db_refs.discard(sorted(db_refs)[step[1] % len(db_refs)])
                elif kind == 'pin':
                    pins.add(step[1])
                elif kind == 'unpin' and pins:
                    pins.discard(sorted(pins)[step[1] % len(pins)])
                elif kind == 'problem':
                    problem = step[1]
                elif kind == 'clock':
                    now += datetime.timedelta(seconds=step[1])
            now += datetime.timedelta(seconds=elapsed)
            self._sweep(action, hosts, base, quarantine, chains, db_refs,
                        pins, problem, now, history, candidates, min_age)
            # As the agent would: forget what it deleted.
            history = {name: h for name, h in self.last.history().items()
                       if name in base or name in quarantine}

    def _sweep(self, action, hosts, base, quarantine, chains, db_refs, pins,
               problem, now, history, candidates, min_age):
        references = {}
        for number, name in chains.items():
            references.setdefault(name, []).append('i%d/disk' % number)
        storage = scan.ScanResult(instances_path='/i',
                                  base_subdirectory='_base')
        for name, mtime in base.items():
            storage.base_files[name] = scan.BaseFile(
                name=name, kind=basefiles.classify(name).kind, size=1,
                mtime=mtime, referenced_by=references.get(name, []))
        storage.references = references
        if problem:
            storage.problems = [scan.Problem('/i/x/disk', 'unreadable')]
        for name, at in quarantine.items():
            if name not in base:
                old = history.get(name) or verdict.FileHistory()
                history[name] = verdict.FileHistory(
                    candidate_since=old.candidate_since,
                    candidate_since_all_up=old.candidate_since_all_up,
                    size=old.size, mtime=old.mtime, quarantined_at=at)
        policy = verdict.Policy(action=action, interval=INTERVAL,
                                min_age_original=min_age,
                                min_age_resized=min_age // 2,
                                grace_period=DAY)
        self.last = result = verdict.decide(
            storage, liveness={h: verdict.HostState(up)
                               for h, up in hosts.items()},
            db_references=set(db_refs), pins=set(pins), history=history,
            policy=policy, now=now)
        all_up = all(up is True for up in hosts.values())
        for name, fv in result.files.items():
            protected = _protected(name, chains, db_refs, pins)
            if protected:
                self.assertEqual(verdict.IN_USE, fv.verdict, name)
            if fv.verdict == verdict.CANDIDATE:
                candidates.setdefault(name, []).append(now)
            elif fv.verdict not in verdict.APPROVALS:
                candidates.pop(name, None)
            if not fv.approved:
                continue
            self.assertFalse(protected, name)
            self.assertTrue(all_up, (name, hosts))
            self.assertFalse(problem)
            self.assertNotEqual(basefiles.OTHER, fv.kind)
            if fv.verdict == verdict.QUARANTINE:
                self.assertIn(action, ('quarantine', 'delete'))
                earlier = candidates.get(name, [])
                self.assertTrue(
                    earlier and (now - earlier[0]).total_seconds()
                    >= INTERVAL, (name, earlier, now))
                quarantine[name] = now
                base.pop(name, None)
            else:
                self.assertEqual('delete', action)
                self.assertIn(name, quarantine)
                self.assertGreaterEqual(
                    (now - quarantine[name]).total_seconds(), DAY)
                del quarantine[name]
            candidates.pop(name, None)
        for name, fv in result.files.items():
            if fv.restore and name in quarantine:
                base[name] = fv.mtime
                del quarantine[name]
