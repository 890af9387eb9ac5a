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

"""Realistic deleted and live instances in a real Nova schema, for tests.

Tables and columns are reflected from the databases that ``nova-manage``
built (see :mod:`cryptkeeper.tests.local_fixtures.nova`); nothing here
repeats Nova's DDL. Columns the loader has no opinion about are filled by
:func:`required_fill` from their reflected nullability and defaults, so a
new NOT NULL column in a later Nova release does not break the loader.

Deleted instances look like what Nova's ``instance_destroy`` leaves: the
instance and most of its children soft-deleted (``deleted = id``,
``deleted_at`` = the instance's deletion time), ``instance_actions`` and
``instance_actions_events`` never soft-deleted, and the API DB's
``instance_mappings`` (``queued_for_delete``) and ``request_specs`` still
there.
"""

import collections
import datetime
import json
import random
import uuid

from oslo_utils import timeutils
import sqlalchemy as sa

CELL_TABLES = ('instances', 'instance_system_metadata', 'instance_metadata',
               'instance_faults', 'instance_extra', 'instance_info_caches',
               'block_device_mapping', 'instance_actions',
               'instance_actions_events')
API_TABLES = ('instance_mappings', 'request_specs')

# What Nova's instance_destroy soft-deletes along with the instance; the
# actions and their events it keeps on purpose, for operators to read.
NOVA_SOFT_DELETED_CHILDREN = frozenset((
    'instance_system_metadata', 'instance_metadata', 'instance_faults',
    'instance_extra', 'instance_info_caches', 'block_device_mapping'))

# The one system-metadata key EC2 RunInstances looks instances up by.
CLIENT_TOKEN_KEY = 'EC2_client_token'
_SYSMETA_KEYS = (CLIENT_TOKEN_KEY, 'image_base_image_ref',
                 'image_disk_format', 'image_min_disk', 'owner_project_name',
                 'owner_user_name', 'image_container_format',
                 'image_min_ram', 'boot_roles')
_ACTIONS = ('create', 'reboot', 'stop', 'start', 'resize')
_EVENTS = ('compute__do_build_and_run_instance', 'compute_reboot_instance',
           'compute_stop_instance', 'compute_start_instance',
           'compute_resize_instance')

DEFAULT_AGES = (5, 45, 200, 500)


def required_fill(table, provided=(), now=None):
    """Values for the columns an INSERT into ``table`` must not leave out.

    A column needs a value when it is NOT NULL, has no server default and
    is not an integer primary key the database numbers itself. Columns in
    ``provided`` are skipped. The value is the plainest one of the
    reflected type (0, '', false, the first enum label, ``now``); a type
    with no plain value raises, naming the column, rather than guessing.
    """
    now = now or timeutils.utcnow()
    fill = {}
    auto_pk = _autoincrement_pk(table)
    for col in table.columns:
        if col.name in provided or col is auto_pk:
            continue
        if (col.nullable or col.server_default is not None or
                col.default is not None):
            continue
        fill[col.name] = _plain_value(col, now)
    return fill


def _autoincrement_pk(table):
    pk = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, sa.Integer):
        return pk[0]
    return None


def _plain_value(col, now):
    col_type = col.type
    # Enum before String: Enum is a String subclass.
    if isinstance(col_type, sa.Enum):
        return col_type.enums[0]
    if isinstance(col_type, sa.Boolean):
        return False
    if isinstance(col_type, (sa.Integer, sa.Numeric, sa.Float)):
        return 0
    if isinstance(col_type, (sa.DateTime, sa.Date)):
        return now
    if isinstance(col_type, sa.JSON):
        return {}
    if isinstance(col_type, sa.String):
        return ''
    if isinstance(col_type, sa.LargeBinary):
        return b''
    raise ValueError(f'no plain value for NOT NULL column {col.table.name}.'
                     f'{col.name} of type {col_type!r}')


def _bucket_age(ages, i):
    return ages[i % len(ages)]


class _Table:
    """A reflected table, its next free id and the rows it has been sent."""

    def __init__(self, table, next_id, now):
        self.table = table
        self.columns = set(table.columns.keys())
        self.next_id = next_id
        self.now = now
        self._fill = {}
        self.stats = collections.Counter()
        self.by_age = collections.Counter()

    def row(self, values):
        # Keys the schema does not have are dropped, so the loader follows
        # the schema it finds rather than one Nova release's.
        row = {k: v for k, v in values.items() if k in self.columns}
        keys = frozenset(row)
        if keys not in self._fill:
            self._fill[keys] = required_fill(self.table, keys, self.now)
        row.update(self._fill[keys])
        return row

    def take_id(self):
        value = self.next_id
        self.next_id += 1
        return value


class Loader:
    """Load deleted and live instances into a Nova cell (and its API DB).

    See :func:`load` for the parameters.
    """

    def __init__(self, cell_engine, api_engine=None, now=None, seed=0,
                 ages=DEFAULT_AGES,
                 soft_deleted_children=NOVA_SOFT_DELETED_CHILDREN,
                 sysmeta_per_instance=5, metadata_per_instance=2,
                 faults_per_instance=1, bdms_per_instance=1,
                 actions_per_instance=2, events_per_action=1,
                 chunk_size=1000, cell_url=None):
        self.cell_engine = cell_engine
        self.api_engine = api_engine
        # Whole seconds: MySQL DATETIME columns drop the fraction.
        self.now = (now or timeutils.utcnow()).replace(microsecond=0)
        self.rng = random.Random(seed)
        self.ages = tuple(ages)
        self.soft_deleted_children = frozenset(soft_deleted_children)
        self.per_instance = {
            'instance_system_metadata': sysmeta_per_instance,
            'instance_metadata': metadata_per_instance,
            'instance_faults': faults_per_instance,
            'instance_extra': 1,
            'instance_info_caches': 1,
            'block_device_mapping': bdms_per_instance,
            'instance_actions': actions_per_instance,
        }
        self.events_per_action = events_per_action
        self.chunk_size = chunk_size
        self.cell_url = cell_url
        self.projects = [self._uuid().replace('-', '') for _ in range(5)]
        self.users = [self._uuid().replace('-', '') for _ in range(10)]
        self.instances_loaded = collections.Counter()
        self.ages_loaded = collections.Counter()
        self.cell = self._reflect(cell_engine, CELL_TABLES)
        self.api = {}
        self.cell_id = None
        if api_engine is not None:
            self.api = self._reflect(api_engine, API_TABLES)
            self.cell_id = self._cell_mapping_id()

    # -- setup -------------------------------------------------------------

    def _uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _reflect(self, engine, names):
        meta = sa.MetaData()
        meta.reflect(engine, only=names)
        tables = {}
        with engine.connect() as conn:
            for name in names:
                table = meta.tables[name]
                next_id = None
                pk = _autoincrement_pk(table)
                if pk is not None:
                    # Ids are given explicitly, so that deleted = id can be
                    # written in the same bulk INSERT, and events can point
                    # at their actions without a round trip per row.
                    top = conn.execute(sa.select(sa.func.max(pk))).scalar()
                    next_id = (top or 0) + 1
                tables[name] = _Table(table, next_id, self.now)
        return tables

    def _cell_mapping_id(self):
        meta = sa.MetaData()
        mappings = sa.Table('cell_mappings', meta,
                            autoload_with=self.api_engine)
        with self.api_engine.begin() as conn:
            found = conn.execute(
                sa.select(mappings.c.id)
                .where(mappings.c.name == 'cell1')).scalar()
            if found is not None:
                return found
            url = self.cell_url or self.cell_engine.url.render_as_string(
                hide_password=False)
            values = {'uuid': self._uuid(), 'name': 'cell1',
                      'transport_url': 'none:///',
                      'database_connection': url,
                      'created_at': self.now}
            values = {k: v for k, v in values.items() if k in mappings.c}
            values.update(required_fill(mappings, values, self.now))
            return conn.execute(
                mappings.insert().values(**values)).inserted_primary_key[0]

    # -- rows ----------------------------------------------------------------

    def _soft(self, table, deleted_at, rid, values):
        # Nova's soft delete: deleted = the row's own id.
        if deleted_at is not None and table in self.soft_deleted_children:
            values.update(deleted=rid, deleted_at=deleted_at)
        else:
            values.update(deleted=0, deleted_at=None)
        return values

    def _instance_rows(self, rows, deleted, age):
        rng = self.rng
        t = self.cell
        inst_uuid = self._uuid()
        project = rng.choice(self.projects)
        user = rng.choice(self.users)
        host = 'compute-%02d' % rng.randrange(20)
        image = self._uuid()
        if deleted:
            deleted_at = self.now - datetime.timedelta(days=age)
            created = deleted_at - datetime.timedelta(
                days=rng.randrange(1, 60), seconds=rng.randrange(86400))
        else:
            deleted_at = None
            created = self.now - datetime.timedelta(
                days=rng.randrange(1, 400), seconds=rng.randrange(86400))
        launched = created + datetime.timedelta(seconds=rng.randrange(5, 90))

        inst = t['instances']
        iid = inst.take_id()
        rows['instances'].append(inst.row({
            'id': iid, 'uuid': inst_uuid,
            'created_at': created, 'updated_at': deleted_at or launched,
            'deleted_at': deleted_at, 'deleted': iid if deleted else 0,
            'user_id': user, 'project_id': project, 'image_ref': image,
            'kernel_id': '', 'ramdisk_id': '', 'launch_index': 0,
            'key_name': 'key-' + user[:6],
            'power_state': 0 if deleted else 1,
            'vm_state': 'deleted' if deleted else 'active',
            'task_state': None, 'memory_mb': 2048, 'vcpus': 1,
            'root_gb': 20, 'ephemeral_gb': 0,
            'hostname': 'vm-%d' % iid, 'host': host, 'node': host,
            'launched_on': host, 'instance_type_id': 1,
            'reservation_id': 'r-%08x' % rng.getrandbits(32),
            'launched_at': launched,
            'terminated_at': deleted_at,
            'availability_zone': 'nova', 'display_name': 'vm-%d' % iid,
            'display_description': 'vm-%d' % iid, 'locked': False,
            'os_type': 'linux', 'architecture': 'x86_64',
            'root_device_name': '/dev/vda', 'config_drive': '',
            'progress': 0, 'auto_disk_config': False,
            'shutdown_terminate': False, 'disable_terminate': False,
            'cleaned': 1 if deleted else 0, 'hidden': False,
        }))
        common = {'instance_uuid': inst_uuid, 'created_at': created,
                  'updated_at': None}

        name = 'instance_system_metadata'
        for n in range(self.per_instance[name]):
            key = (_SYSMETA_KEYS[n] if n < len(_SYSMETA_KEYS)
                   else f'extra_{n}')
            value = {CLIENT_TOKEN_KEY: self._uuid(),
                     'image_base_image_ref': image,
                     'owner_project_name': 'project-' + project[:6],
                     'owner_user_name': 'user-' + user[:6]}.get(key, str(n))
            self._child(rows, name, deleted_at,
                        dict(common, key=key, value=value))

        name = 'instance_metadata'
        for n in range(self.per_instance[name]):
            self._child(rows, name, deleted_at,
                        dict(common, key=f'meta_{n}', value=f'value {n}'))

        name = 'instance_faults'
        for _ in range(self.per_instance[name]):
            self._child(rows, name, deleted_at, dict(
                common, code=500, host=host,
                message='No valid host was found.',
                details='Traceback (most recent call last): ...'))

        self._child(rows, 'instance_extra', deleted_at, dict(
            common, flavor=json.dumps({'cur': {'name': 'm1.small'}}),
            pci_requests='[]', numa_topology=None, keypairs=None))

        self._child(rows, 'instance_info_caches', deleted_at, dict(
            common, network_info='[]'))

        name = 'block_device_mapping'
        for n in range(self.per_instance[name]):
            self._child(rows, name, deleted_at, dict(
                common, uuid=self._uuid(), device_name='/dev/vd%s' % chr(
                    ord('a') + n % 26),
                source_type='image' if n == 0 else 'blank',
                destination_type='local', boot_index=0 if n == 0 else -1,
                delete_on_termination=True,
                image_id=image if n == 0 else None, volume_size=None,
                no_device=False, guest_format=None,
                device_type='disk', disk_bus='virtio'))

        self._actions(rows, common, project, user, host, created,
                      deleted_at)
        return inst_uuid, project, user

    def _child(self, rows, name, deleted_at, values):
        table = self.cell[name]
        rid = table.take_id()
        values['id'] = rid
        rows[name].append(table.row(self._soft(name, deleted_at, rid,
                                               values)))

    def _actions(self, rows, common, project, user, host, created,
                 deleted_at):
        actions = self.cell['instance_actions']
        events = self.cell['instance_actions_events']
        count = self.per_instance['instance_actions']
        for n in range(count):
            if deleted_at is not None and n == count - 1 and n:
                action, event = 'delete', 'compute_terminate_instance'
                start = deleted_at
            else:
                action = _ACTIONS[n % len(_ACTIONS)]
                event = _EVENTS[n % len(_EVENTS)]
                start = created + datetime.timedelta(minutes=n)
            aid = actions.take_id()
            finish = start + datetime.timedelta(seconds=3)
            # Nova never soft-deletes actions or their events.
            rows['instance_actions'].append(actions.row({
                'id': aid, 'instance_uuid': common['instance_uuid'],
                'action': action, 'request_id': 'req-' + self._uuid(),
                'user_id': user, 'project_id': project,
                'start_time': start, 'finish_time': finish,
                'message': None, 'created_at': start, 'updated_at': finish,
                'deleted_at': None, 'deleted': 0}))
            for _ in range(self.events_per_action):
                rows['instance_actions_events'].append(events.row({
                    'id': events.take_id(), 'action_id': aid,
                    'event': event, 'start_time': start,
                    'finish_time': finish, 'result': 'Success',
                    'traceback': None, 'host': host, 'details': None,
                    'created_at': start, 'updated_at': finish,
                    'deleted_at': None, 'deleted': 0}))

    def _api_rows(self, rows, inst_uuid, project, user, deleted):
        mappings = self.api['instance_mappings']
        rows['instance_mappings'].append(mappings.row({
            'id': mappings.take_id(), 'instance_uuid': inst_uuid,
            'cell_id': self.cell_id, 'project_id': project,
            'user_id': user, 'queued_for_delete': bool(deleted),
            'created_at': self.now, 'updated_at': None}))
        specs = self.api['request_specs']
        spec = {'nova_object.name': 'RequestSpec',
                'nova_object.namespace': 'nova',
                'nova_object.version': '1.14',
                'nova_object.data': {'instance_uuid': inst_uuid,
                                     'project_id': project,
                                     'user_id': user, 'num_instances': 1}}
        rows['request_specs'].append(specs.row({
            'id': specs.take_id(), 'instance_uuid': inst_uuid,
            'spec': json.dumps(spec), 'created_at': self.now,
            'updated_at': None}))

    # -- loading -------------------------------------------------------------

    def load(self, deleted, live):
        """Insert ``deleted`` soft-deleted and ``live`` live instances."""
        plan = [True] * deleted + [False] * live
        done_deleted = sum(1 for d in plan if d)
        for start in range(0, len(plan), self.chunk_size):
            cell_rows = collections.defaultdict(list)
            api_rows = collections.defaultdict(list)
            for offset, is_deleted in enumerate(
                    plan[start:start + self.chunk_size]):
                age = (_bucket_age(self.ages, start + offset)
                       if is_deleted else None)
                before = {name: len(cell_rows[name])
                          for name in CELL_TABLES}
                inst_uuid, project, user = self._instance_rows(
                    cell_rows, is_deleted, age)
                self._count(cell_rows, before, is_deleted, age)
                if self.api:
                    self._api_rows(api_rows, inst_uuid, project, user,
                                   is_deleted)
                    self._count_api(is_deleted)
            self._insert(self.cell_engine, self.cell, cell_rows, CELL_TABLES)
            if self.api:
                self._insert(self.api_engine, self.api, api_rows, API_TABLES)
        self.instances_loaded['deleted'] += done_deleted
        self.instances_loaded['live'] += len(plan) - done_deleted
        self._fix_sequences(self.cell_engine, self.cell)
        if self.api:
            self._fix_sequences(self.api_engine, self.api)
        return self.summary()

    def _count(self, rows, before, deleted, age):
        if deleted:
            self.ages_loaded[age] += 1
        for name in CELL_TABLES:
            n = len(rows[name]) - before[name]
            stats = self.cell[name].stats
            stats['rows'] += n
            stats['of_deleted_instances' if deleted
                  else 'of_live_instances'] += n
            soft = deleted and (name == 'instances' or
                                name in self.soft_deleted_children)
            if soft:
                stats['soft_deleted'] += n
                self.cell[name].by_age[age] += n

    def _count_api(self, deleted):
        for name in API_TABLES:
            stats = self.api[name].stats
            stats['rows'] += 1
            stats['of_deleted_instances' if deleted
                  else 'of_live_instances'] += 1

    def _insert(self, engine, tables, rows, order):
        # Parents first, in one transaction per chunk: executemany keeps
        # it to a few round trips per table however many rows there are.
        with engine.begin() as conn:
            for name in order:
                if rows.get(name):
                    conn.execute(tables[name].table.insert(), rows[name])

    @staticmethod
    def _fix_sequences(engine, tables):
        # Explicit ids do not move PostgreSQL's sequences (MySQL and SQLite
        # follow the largest id by themselves); Nova's own inserts later
        # must not collide with ours.
        if engine.dialect.name != 'postgresql':
            return
        with engine.begin() as conn:
            for entry in tables.values():
                pk = _autoincrement_pk(entry.table)
                if pk is None or entry.next_id is None:
                    continue
                conn.execute(
                    sa.text('SELECT setval(pg_get_serial_sequence(:t, :c), '
                            ':v, false)'),
                    {'t': entry.table.name, 'c': pk.name,
                     'v': entry.next_id})

    def summary(self):
        """What was loaded so far (see :func:`load`)."""
        def tables(entries):
            out = {}
            for name, entry in entries.items():
                stats = {key: entry.stats[key] for key in (
                    'rows', 'soft_deleted', 'of_deleted_instances',
                    'of_live_instances')}
                stats['soft_deleted_by_age'] = dict(sorted(
                    entry.by_age.items()))
                out[name] = stats
            return out
        return {'now': self.now,
                'instances': dict(self.instances_loaded),
                'ages': dict(sorted(self.ages_loaded.items())),
                'cell': tables(self.cell),
                'api': tables(self.api)}


def load(cell_engine, api_engine=None, deleted=100, live=20, **kwargs):
    """Load ``deleted`` soft-deleted and ``live`` live instances.

    :param cell_engine: engine of a Nova cell database built by
        ``nova-manage db sync``.
    :param api_engine: engine of its API database (``api_db sync``); when
        given, every instance gets an ``instance_mappings`` row (pointing
        at a ``cell1`` cell mapping created if missing, whose
        ``database_connection`` is the cell engine's URL) and a
        ``request_specs`` row.
    :param ages: deletion ages in days; deleted instance ``i`` gets
        ``ages[i % len(ages)]``, measured back from ``now``.
    :param now: naive UTC time the ages are measured from (default: now,
        rounded down to the second).
    :param soft_deleted_children: which child tables of a deleted instance
        are soft-deleted with it (default: what Nova does).
    :param sysmeta_per_instance: system-metadata rows per instance (the
        first is ``EC2_client_token``); likewise ``metadata_per_instance``,
        ``faults_per_instance``, ``bdms_per_instance``,
        ``actions_per_instance`` and ``events_per_action``. Every instance
        also has one ``instance_extra`` and one ``instance_info_caches``.
    :param chunk_size: instances per transaction.
    :param seed: seed of the random ids and names, for repeatable data.
    :returns: ``{"now": datetime, "instances": {"deleted": N, "live": M},
        "ages": {days: instances}, "cell": {table: stats}, "api": {table:
        stats}}`` where ``stats`` is ``{"rows", "soft_deleted",
        "of_deleted_instances", "of_live_instances",
        "soft_deleted_by_age": {days: rows}}`` — rows loaded, not rows in
        the table.
    """
    loader = Loader(cell_engine, api_engine, **kwargs)
    return loader.load(deleted, live)
