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

"""Archive backend: compressed JSON Lines files and a manifest per job.

Layout: ``<directory>/<job id>/<seq>-<table>.jsonl.gz`` holds one
table's rows of one batch, one canonical JSON row per line sorted by
primary key, so the SHA-256 of the uncompressed file is the batch's
:func:`rows.digest`. ``manifest.json`` lists every file with its table,
batch, row count, key range and both checksums. Every file is written
under a temporary name, synced, renamed into place and its directory
synced; no path is ever resolved through a symbolic link.
"""

import datetime
import errno
import gzip
import hashlib
import json
import os
import re
import stat
import urllib.parse
import uuid

from cryptkeeper.purge import backends
from cryptkeeper.purge.backends import base
from cryptkeeper.purge import errors
from cryptkeeper.purge import rows as rows_mod

MANIFEST = 'manifest.json'
FORMAT = 1
SUFFIX = '.jsonl.gz'
_JOB_ID = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z')
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                 os.O_CLOEXEC)
# Level 6 is gzip's own default: most of the size for little CPU.
COMPRESS_LEVEL = 6
# What open(O_NOFOLLOW | O_DIRECTORY) says of a link or a plain file.
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR)


def _ident(key):
    """A key's identity, the same for typed and JSON-read values."""
    return json.dumps(rows_mod.plain_key(key),
                      sort_keys=True, separators=(',', ':'), default=str)


def _in_range(key, entry):
    try:
        return entry['first_key'] <= key <= entry['last_key']
    except TypeError:
        # Keys of mixed types cannot be ordered: read the file to know.
        return True


def _safe(name):
    return urllib.parse.quote(name, safe='')


def _refuse_link(path, what):
    raise errors.PurgeError(
        'The archive %s %s is a symbolic link or not a directory; '
        'refusing to follow it. Point [purge] archive_dir at a real '
        'directory.' % (what, path))


class FilesBackend(base.ArchiveBackend):
    """Archived rows in per-job directories of compressed JSON Lines."""

    kind = 'files'
    atomic_with_source = False

    def __init__(self, directory=None, job_id=None, **other_options):
        if not directory:
            raise errors.InvalidParams(
                'The files archive backend needs a directory '
                '([purge] archive_dir).')
        if job_id is not None and not _JOB_ID.match(str(job_id)):
            raise errors.InvalidParams(
                'Job id %r cannot name an archive directory.' % (job_id,))
        self._root = os.path.abspath(directory)
        self._job_id = None if job_id is None else str(job_id)
        self._root_fd = None
        self._job_fd = None
        self._manifest = None
        # Changes not yet in manifest.json: {file: entry} and file names.
        self._adds = {}
        self._dels = set()
        # (inode, size, mtime) of the manifest as we last wrote it.
        self._stamp = None
        self._graph = None
        self._sources = {}
        # Other jobs' manifests read by expire: a purge job holds the
        # target's lock, so nothing else changes them meanwhile.
        self._others = {}

    # Directories

    def _open_root(self, create):
        if self._root_fd is not None:
            return self._root_fd
        try:
            st = os.lstat(self._root)
        except FileNotFoundError:
            if not create:
                return None
            os.makedirs(self._root, mode=0o700, exist_ok=True)
            st = os.lstat(self._root)
        if not stat.S_ISDIR(st.st_mode):
            _refuse_link(self._root, 'directory')
        try:
            self._root_fd = os.open(self._root, _DIR_FLAGS)
        except OSError as exc:
            if exc.errno not in _LINK_ERRNOS:
                raise
            # Swapped for a link between the check and the open.
            _refuse_link(self._root, 'directory')
        return self._root_fd

    def _open_dir(self, parent_fd, name, create):
        if create:
            try:
                os.mkdir(name, 0o700, dir_fd=parent_fd)
                os.fsync(parent_fd)
            except FileExistsError:
                pass
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if create:
                raise
            return None
        except OSError as exc:
            if exc.errno not in _LINK_ERRNOS:
                raise
            _refuse_link(os.path.join(self._root, name), 'job directory')

    def _job_dir(self, create=False):
        if self._job_fd is not None:
            return self._job_fd
        if self._job_id is None:
            raise errors.InvalidParams(
                'The files archive backend needs the job id whose '
                'archive it reads or writes.')
        root = self._open_root(create)
        if root is None:
            return None
        self._job_fd = self._open_dir(root, self._job_id, create)
        return self._job_fd

    @staticmethod
    def _write_atomic(dir_fd, name, data):
        tmp = '.%s.%s.tmp' % (name, uuid.uuid4().hex)
        fd = os.open(tmp, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # rename() replaces a link at ``name``; it never follows one.
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)

    @staticmethod
    def _read_file(dir_fd, name):
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise errors.PurgeError(
                'Archive file %s is a symbolic link; refusing to follow '
                'it. Someone changed the archive directory: check it.'
                % name) from None
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b''.join(chunks)

    # Manifest

    def _load_manifest(self, dir_fd, job_id):
        try:
            data = self._read_file(dir_fd, MANIFEST)
        except FileNotFoundError:
            return {'format': FORMAT, 'job_id': job_id, 'files': {}}
        doc = json.loads(data)
        if doc.get('format') != FORMAT:
            raise errors.PurgeError(
                'Archive manifest of job %s has format %r; this version '
                'reads format %d.' % (job_id, doc.get('format'), FORMAT))
        return {'format': FORMAT, 'job_id': job_id,
                'files': {e['file']: e for e in doc['files']}}

    def _save_manifest(self, dir_fd, manifest):
        doc = {'format': FORMAT, 'job_id': manifest['job_id'],
               'files': sorted(manifest['files'].values(),
                               key=lambda e: (e['batch'], e['table'],
                                              e['file']))}
        data = json.dumps(doc, sort_keys=True, indent=1).encode('utf-8')
        self._write_atomic(dir_fd, MANIFEST, data + b'\n')
        return self._manifest_stamp(dir_fd)

    @staticmethod
    def _manifest_stamp(dir_fd):
        try:
            st = os.stat(MANIFEST, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _change(self, adds=None, dels=()):
        manifest = self._ensure_manifest()
        for fname in dels:
            manifest['files'].pop(fname, None)
            self._adds.pop(fname, None)
            self._dels.add(fname)
        for fname, entry in (adds or {}).items():
            manifest['files'][fname] = entry
            self._adds[fname] = entry
            self._dels.discard(fname)

    def _commit(self, dir_fd):
        """Write our changes into manifest.json.

        Another backend may share the job's directory (the API database's
        follow-ups): when the manifest is not the one we last wrote, our
        changes go onto what is there now rather than over it.
        """
        if not (self._adds or self._dels):
            return
        manifest = self._ensure_manifest()
        stamp = self._manifest_stamp(dir_fd)
        if stamp is not None and stamp != self._stamp:
            manifest = self._load_manifest(dir_fd, self._job_id)
            for fname in self._dels:
                manifest['files'].pop(fname, None)
            manifest['files'].update(self._adds)
        self._stamp = self._save_manifest(dir_fd, manifest)
        self._manifest = manifest
        self._adds = {}
        self._dels = set()

    def manifest(self):
        """The job's manifest as it stands (written or not yet flushed)."""
        self._ensure_manifest()
        return {'format': FORMAT, 'job_id': self._job_id,
                'files': sorted(self._manifest['files'].values(),
                                key=lambda e: (e['batch'], e['table']))}

    def _ensure_manifest(self, create=False):
        if self._manifest is None:
            fd = self._job_dir(create)
            if fd is None:
                self._manifest = {'format': FORMAT, 'job_id': self._job_id,
                                  'files': {}}
            else:
                self._stamp = self._manifest_stamp(fd)
                self._manifest = self._load_manifest(fd, self._job_id)
        return self._manifest

    # Schema

    def bind_graph(self, graph):
        """Learn the source schema (types, age columns) without writing."""
        self._graph = graph

    def prepare(self, graph, tables):
        self.bind_graph(graph)
        for table in tables:
            name = backends.name_of(table)
            source = graph.tables[name]
            if not backends.pk_columns(source):
                raise errors.PurgeError(
                    'Table %s has no primary key; rows without a key cannot '
                    'be archived, checked or restored one by one.' % name)
            self._sources[name] = source
        self._job_dir(create=True)
        self._ensure_manifest(create=True)

    def _source(self, table):
        name = backends.name_of(table)
        if not isinstance(table, str):
            self._sources.setdefault(name, table)
        if name in self._sources:
            return self._sources[name]
        if self._graph is not None and name in self._graph.tables:
            return self._graph.tables[name]
        return None

    def _pk(self, table):
        source = self._source(table)
        if source is not None:
            return [c.name for c in backends.pk_columns(source)]
        raise errors.PurgeError(
            'No primary key known for table %s.' % backends.name_of(table))

    def _age_columns(self, name, source):
        names = []
        if self._graph is not None:
            try:
                names.append(self._graph.age_column(name))
            except (KeyError, AttributeError):
                pass
        names.extend(backends.FALLBACK_AGE_COLUMNS)
        columns = source.c if source is not None else {}
        return [n for i, n in enumerate(names)
                if n and n in columns and n not in names[:i]]

    # Rows

    def write(self, conn, table, rows, batch):
        name = backends.name_of(table)
        source = self._source(table)
        pk = self._pk(table)
        rows = list(rows)
        fd = self._job_dir(create=True)
        manifest = self._ensure_manifest(create=True)
        # The order and form of rows.digest: the file's own SHA-256 is
        # the checksum the source rows were counted with.
        lines = sorted((rows_mod.key_of(r, pk), rows_mod.canonical(r))
                       for r in rows)
        content = b''.join(line + b'\n' for _, line in lines)
        data = gzip.compress(content, compresslevel=COMPRESS_LEVEL, mtime=0)
        fname = '%06d-%s%s' % (batch.seq, _safe(name), SUFFIX)
        self._write_atomic(fd, fname, data)
        newest = None
        ages = self._age_columns(name, source)
        for row in rows:
            value = next((row[a] for a in ages if row.get(a) is not None),
                         None)
            if value is not None and (newest is None or value > newest):
                newest = value
        entry = {
            'file': fname, 'table': name, 'batch': batch.seq,
            'rows': len(lines),
            'sha256': hashlib.sha256(content).hexdigest(),
            'file_sha256': hashlib.sha256(data).hexdigest(),
            'bytes': len(data), 'pk': pk,
            'columns': sorted(rows[0]) if rows else [],
            'first_key': rows_mod.plain_key(lines[0][0]) if lines else None,
            'last_key': rows_mod.plain_key(lines[-1][0]) if lines else None,
            'archived_at': datetime.datetime.now(
                datetime.timezone.utc).replace(tzinfo=None).isoformat(),
            'newest': (rows_mod.plain_row({'v': newest})['v']
                       if newest is not None else None),
        }
        stale = [f for f, e in manifest['files'].items()
                 if e['batch'] == batch.seq and e['table'] == name
                 and f != fname]
        self._change({fname: entry}, stale)
        if stale:
            self._commit(fd)
            for f in stale:
                self._unlink(fd, f)
        return {'rows': entry['rows'], 'sha256': entry['sha256'],
                'location': os.path.join(self._root, self._job_id, fname)}

    @staticmethod
    def _unlink(dir_fd, name):
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass

    def flush(self, batch):
        if self._adds or self._dels:
            self._commit(self._job_dir(create=True))

    def _entries(self, name, keys=None):
        manifest = self._ensure_manifest()
        entries = sorted((e for e in manifest['files'].values()
                          if e['table'] == name),
                         key=lambda e: (e['batch'], e['file']))
        if keys is None:
            return entries
        return [e for e in entries
                if e['rows'] and any(_in_range(k, e) for k in keys)]

    def _load(self, entry, check=False):
        """The plain rows of one file; with ``check``, prove its sums."""
        fd = self._job_dir()
        if fd is None:
            raise errors.VerificationFailed(
                'Archive directory of job %s is missing.' % self._job_id)
        try:
            data = self._read_file(fd, entry['file'])
        except FileNotFoundError:
            raise errors.VerificationFailed(
                'Archive file %s of job %s is missing.'
                % (entry['file'], self._job_id)) from None
        content = gzip.decompress(data)
        if check:
            got = (hashlib.sha256(data).hexdigest(),
                   hashlib.sha256(content).hexdigest())
            if got != (entry['file_sha256'], entry['sha256']):
                raise errors.VerificationFailed(
                    'Archive file %s of job %s does not match its manifest '
                    '(file sha256 %s, content sha256 %s; manifest says %s, '
                    '%s).' % (entry['file'], self._job_id, got[0], got[1],
                              entry['file_sha256'], entry['sha256']))
        return [json.loads(line) for line in content.splitlines()]

    def _matching(self, table, keys, check=False):
        """(entry, plain row) of the archived rows of ``keys``."""
        name = backends.name_of(table)
        wanted = {_ident(k) for k in keys}
        plain = [rows_mod.plain_key(k) for k in keys]
        for entry in self._entries(name, plain):
            pk = entry['pk']
            for row in self._load(entry, check=check):
                if _ident([row[c] for c in pk]) in wanted:
                    yield entry, row

    def verify(self, conn, table, keys, expected):
        name = backends.name_of(table)
        source = self._source(table)
        pk = self._pk(table)
        found = [backends.decode_row(source, row) if source is not None
                 else row for _, row in self._matching(table, keys,
                                                       check=True)]
        count, sha = rows_mod.digest(found, pk)
        if count != expected['rows'] or sha != expected['sha256']:
            raise errors.VerificationFailed(
                'Archive files of table %s (job %s) hold %d rows (sha256 '
                '%s) where %d rows (sha256 %s) were written; the source '
                'rows were not deleted.' % (name, self._job_id, count, sha,
                                            expected['rows'],
                                            expected['sha256']))

    def contains(self, table, keys):
        if not keys:
            return 0
        seen = set()
        for entry, row in self._matching(table, keys):
            seen.add(_ident([row[c] for c in entry['pk']]))
        return len(seen)

    def read(self, table, keys):
        source = self._source(table)
        for _, row in self._matching(table, keys):
            yield (backends.decode_row(source, row) if source is not None
                   else row)

    def remove(self, table, keys):
        name = backends.name_of(table)
        if not keys:
            return 0
        fd = self._job_dir()
        if fd is None:
            return 0
        wanted = {_ident(k) for k in keys}
        removed = 0
        dropped = []
        fresh = {}
        plain = [rows_mod.plain_key(k) for k in keys]
        for entry in self._entries(name, plain):
            pk = entry['pk']
            lines = []
            kept = 0
            for line in gzip.decompress(
                    self._read_file(fd, entry['file'])).splitlines():
                row = json.loads(line)
                if _ident([row[c] for c in pk]) in wanted:
                    continue
                lines.append(line)
                kept += 1
            if kept == entry['rows']:
                continue
            removed += entry['rows'] - kept
            dropped.append(entry['file'])
            if kept:
                # A new name, so the manifest always names whole files
                # whose sums it holds: the old one goes after it.
                new = self._rewrite(fd, entry, lines)
                fresh[new['file']] = new
        if dropped:
            self._change(fresh, dropped)
            self._commit(fd)
            for fname in dropped:
                self._unlink(fd, fname)
        return removed

    def _rewrite(self, fd, entry, lines):
        content = b''.join(line + b'\n' for line in lines)
        data = gzip.compress(content, compresslevel=COMPRESS_LEVEL, mtime=0)
        fname = '%06d-%s.%s%s' % (entry['batch'], _safe(entry['table']),
                                  uuid.uuid4().hex[:8], SUFFIX)
        self._write_atomic(fd, fname, data)
        first = json.loads(lines[0])
        last = json.loads(lines[-1])
        return dict(entry, file=fname, rows=len(lines),
                    sha256=hashlib.sha256(content).hexdigest(),
                    file_sha256=hashlib.sha256(data).hexdigest(),
                    bytes=len(data),
                    first_key=[first[c] for c in entry['pk']],
                    last_key=[last[c] for c in entry['pk']])

    def job_ids(self):
        """Ids of the jobs with an archive directory here."""
        root = self._open_root(create=False)
        if root is None:
            return []
        ids = []
        with os.scandir(root) as it:
            for item in it:
                if (item.is_dir(follow_symlinks=False)
                        and _JOB_ID.match(item.name)):
                    ids.append(item.name)
        return sorted(ids)

    def expire(self, table, older_than, limit):
        """Remove whole files of ``table`` whose rows are all older.

        A file's age is its newest row's age column (the profile's, else
        deleted_at, updated_at, created_at); a file with no dated row is
        as old as its batch. Files of every job in the directory count.
        At least one file goes per call even when it holds more than
        ``limit`` rows, so each call makes progress.
        """
        name = backends.name_of(table)
        cutoff = older_than.replace(tzinfo=None).isoformat()
        root = self._open_root(create=False)
        if root is None:
            return 0
        removed = 0
        for job_id in self.job_ids():
            if removed >= limit:
                break
            fd = self._open_dir(root, job_id, create=False)
            if fd is None:
                continue
            try:
                removed += self._expire_job(fd, job_id, name, cutoff,
                                            limit - removed)
            finally:
                os.close(fd)
        return removed

    def _expire_job(self, fd, job_id, name, cutoff, budget):
        own = job_id == self._job_id
        if own:
            manifest = self._ensure_manifest()
        else:
            if job_id not in self._others:
                self._others[job_id] = self._load_manifest(fd, job_id)
            manifest = self._others[job_id]
        gone = []
        removed = 0
        for entry in sorted(manifest['files'].values(),
                            key=lambda e: (e['batch'], e['file'])):
            if removed >= budget:
                break
            if entry['table'] != name:
                continue
            age = entry.get('newest') or entry['archived_at']
            if age < cutoff:
                gone.append(entry['file'])
                removed += entry['rows']
        if not gone:
            return 0
        if own:
            self._change(dels=gone)
            self._commit(self._job_dir())
        else:
            for fname in gone:
                del manifest['files'][fname]
            self._save_manifest(fd, manifest)
        for fname in gone:
            self._unlink(fd, fname)
        return removed

    def location(self):
        return {'kind': self.kind, 'directory': self._root,
                'job_id': self._job_id}

    def close(self):
        for attr in ('_job_fd', '_root_fd'):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)
                setattr(self, attr, None)
