# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance records and the action log: the hypervisor's own memory of its
instances (what Nova keeps in its database), on this host's disk.

* ``InstanceRecord`` — one instance: identity, vm_state, task_state,
  power_state, flavor, image, networks, fault, migration.
* ``RecordStore`` — reads and writes records crash-safely (temp file, fsync,
  rename, fsync of the directory) and checks ``expected_task_state`` on save,
  like Nova's ``instance.save(expected_task_state=...)``.
* ``ActionLog`` — append-only JSON lines per instance (Nova's
  instance_actions / instance_actions_events): start, finish, error, and
  events inside an action (e.g. an image cache miss).
* ``RecordStore.lock(uuid)`` — the per-instance lock that serialises
  operations across processes (Nova's ``synchronized(instance.uuid)``).
* ``RecordStore.name_lock(name)`` — the per-name lock under which
  libvirt_instance decides whether a name is new, so two runs of one new
  name build one instance. Always taken before the instance lock, never
  while holding one (no deadlock between the two).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import tempfile

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    RecordCorrupt,
    UnexpectedTaskState,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.batch import DurableBatch
from ansible_collections.novalite.compute.plugins.module_utils._store.files import TMP_PREFIX, append_line
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import directory_writers, file_lock

RECORD_VERSION = 1

# Field name -> default. The record is a plain dict on disk; unknown keys
# written by a newer version are kept untouched, and a field an older
# version did not write loads as its default (a record written before
# ``guest_agent`` existed has no guest agent channel: False).
_FIELDS = {
    'version': RECORD_VERSION,
    'uuid': None,
    'name': None,
    'host': None,
    'vm_state': None,
    'task_state': None,
    'power_state': None,
    'locked': False,
    'flavor': None,
    'old_flavor': None,
    'new_flavor': None,
    'image': None,
    'networks': [],
    'metadata': {},
    'key_data': [],
    'user_data': None,
    'config_drive': False,
    'virt_type': 'kvm',
    'use_cow_images': True,
    'guest_agent': False,
    'fault': None,
    'system_metadata': {},
    'migration': None,
    'created_at': None,
    'updated_at': None,
    'launched_at': None,
    'deleted_at': None,
}

ANY = object()  # "do not check task_state"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


_MUTABLE_DEFAULTS = tuple(field for field, default in _FIELDS.items() if isinstance(default, (list, dict)))


def _with_defaults(data):
    """``data`` over the defaults; each record gets its own empty lists and dicts."""
    merged = dict(_FIELDS)
    for field in _MUTABLE_DEFAULTS:
        merged[field] = type(_FIELDS[field])()
    merged.update(data)
    return merged


class InstanceRecord(object):
    """Attribute access over the record dict; ``to_dict()`` for JSON."""

    __slots__ = ('_data',)

    def __init__(self, data=None):
        object.__setattr__(self, '_data', _with_defaults(copy.deepcopy(data or {})))

    @classmethod
    def loaded(cls, data):
        """A record over ``data`` just parsed from its file (nobody else
        holds it, so it is not copied)."""
        record = cls.__new__(cls)
        object.__setattr__(record, '_data', _with_defaults(data))
        return record

    def __getattr__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        if name not in _FIELDS:
            raise AttributeError('unknown record field %s' % name)
        self._data[name] = value

    def to_dict(self):
        return copy.deepcopy(self._data)

    def fields(self, names):
        """{name: value} of the named fields (the values are not copied: read them only)."""
        return dict((name, self._data.get(name)) for name in names)

    def copy(self):
        return InstanceRecord(self._data)

    @property
    def label(self):
        """How errors name the instance: ``name (uuid)``."""
        return '%s (%s)' % (self.name, self.uuid)


def atomic_write_json(path, data, mode=0o600, before_rename=None):
    """Write JSON so that a crash leaves either the old or the new file (and
    perhaps a ``.tmp-*`` file, which state_reconcile removes).
    ``before_rename`` is called once the new file is durable, before it
    replaces the old one (a crash point's place)."""
    directory = os.path.dirname(path)
    with directory_writers(directory):
        _write_and_rename(path, data, mode, before_rename)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_and_rename(path, data, mode, before_rename=None):
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write('\n')
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if before_rename is not None:
            before_rename()
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json_record(path, key, expected, what):
    """Load a JSON object from ``path`` whose ``key`` must equal ``expected``.
    None when the file does not exist; RecordCorrupt when it cannot be trusted."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise RecordCorrupt('%s %s cannot be parsed: %s' % (what, path, exc))
    if not isinstance(data, dict) or data.get(key) != expected:
        raise RecordCorrupt('%s %s does not describe %s' % (what, path, expected))
    return data


def load_all(directory, load):
    """``load(id)`` for every ``<id>.json`` in ``directory``, in name order
    (temporary files start with a dot and are skipped; vanished ones too)."""
    if not os.path.isdir(directory):
        return []
    loaded = (load(entry[:-len('.json')]) for entry in sorted(os.listdir(directory))
              if entry.endswith('.json') and not entry.startswith('.'))
    return [item for item in loaded if item is not None]


class RecordStore(object):
    def __init__(self, paths, lock_timeout=300.0):
        self.paths = paths
        self.lock_timeout = lock_timeout
        self._batch = None

    def _batching(self):
        return self._batch is not None and self._batch.active

    @contextlib.contextmanager
    def batch(self):
        """Saves inside are made durable together (``_store.batch``);
        flushed when the block ends, whatever ends it."""
        if self._batch is not None:
            raise RuntimeError('record batches do not nest')
        self.paths.ensure_layout()
        self._batch = DurableBatch(self.paths.records_dir)
        try:
            yield self._batch
        finally:
            batch, self._batch = self._batch, None
            batch.flush()

    # -- reading -----------------------------------------------------------
    def load(self, uuid):
        path = self.paths.record(uuid)
        data = self._batch.staged(path) if self._batch is not None else None
        if data is None:
            data = read_json_record(path, 'uuid', uuid, 'record')
        return InstanceRecord.loaded(data) if data is not None else None

    def list(self):
        """Every record on this host (deleted ones included)."""
        return load_all(self.paths.records_dir, self.load)

    def find_by_name(self, name):
        """The live (not deleted) record with this name, or None."""
        for record in self.list():
            if record.name == name and record.vm_state != 'deleted':
                return record
        return None

    # -- writing -----------------------------------------------------------
    def save(self, record, expected_task_state=ANY):
        """Persist ``record``. With ``expected_task_state`` (a value or a
        tuple of values), refuse if the task_state on disk is not one of
        them: another operation changed the instance under us."""
        if expected_task_state is not ANY:
            expected = expected_task_state if isinstance(expected_task_state, (tuple, list, set, frozenset)) \
                else (expected_task_state,)
            current = self.load(record.uuid)
            on_disk = current.task_state if current is not None else None
            if on_disk not in expected:
                raise UnexpectedTaskState(
                    'task_state on disk is %s, expected %s'
                    % (on_disk, ' or '.join(str(e) for e in expected)),
                    instance=record.label)
        now = utcnow()
        if record.created_at is None:
            record.created_at = now
        record.updated_at = now
        if self._batching():
            self._batch.stage(self.paths.record(record.uuid), record._data)
            return record
        if self._batch is not None:
            self._batch.forget(self.paths.record(record.uuid))
        self.paths.ensure_layout()
        atomic_write_json(self.paths.record(record.uuid), record._data)    # serialised, never kept
        return record

    def lock(self, uuid, name=None, timeout=None):
        """The instance lock: waits up to ``timeout`` seconds (None: the
        store's ``lock_timeout``; 0: one try, ``LockTimeout`` at once if
        another operation holds it)."""
        label = 'instance %s' % (name or uuid)
        return file_lock(self.paths.instance_lock(uuid), timeout=self.lock_timeout if timeout is None else timeout,
                         what=label)

    def name_lock(self, name):
        """Take before ``lock()``, never while holding an instance lock."""
        return file_lock(self.paths.name_lock(name), timeout=self.lock_timeout, what='instance name %s' % name)

    def actions(self, uuid):
        return ActionLog(self.paths.actions(uuid), self._batch if self._batching() else None)


class ActionLog(object):
    """Append-only JSON lines; each line is written with one ``write`` and
    fsynced, except progress lines (``durable=False``): losing those to a
    crash loses nothing, and an fsync in the middle of a disk copy can wait
    for the whole filesystem's writeback."""

    def __init__(self, path, batch=None):
        self.path = path
        self.batch = batch      # a DurableBatch: its flush makes the lines durable

    def append(self, action, event, durable=True, **fields):
        entry = {'time': utcnow(), 'action': action, 'event': event}
        entry.update(fields)
        line = json.dumps(entry, sort_keys=True) + '\n'
        if durable and self.batch is not None:
            self.batch.add_line(self.path, line)
            return entry
        append_line(self.path, line, durable)
        return entry

    def entries(self):
        try:
            with open(self.path) as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                # A torn last line after a crash: everything before it stands.
                continue
        return entries
