# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source host's half of a cold migration or resize (seed 002):

* ``start``   — the API/conductor part: checks, migration record
  (pre-migrating), task_state resize_prep, old_vm_state remembered.
* ``migrate`` — Nova's resize_instance + migrate_disk_and_power_off:
  resize_migrating, clean power off, ``<uuid>`` renamed ``<uuid>_resize``,
  every disk but swap (plus disk.info, and the base image if the destination
  lacks it) copied sparse and verified, the record handed to the destination
  (host = destination, resize_migrated), migration post-migrating.
* ``confirm`` — Nova's confirm_migration/_cleanup_resize: ``_resize``
  removed, the source domain undefined.
* ``revert``  — Nova's finish_revert_resize/finish_revert_migration:
  ``_resize`` moved back, old flavor and host restored, domain redefined,
  powered on unless it was stopped.

The source copy is never deleted before confirm.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.flavor import flavor_values
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import PowerState, clean_power_off, power_label
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import wait_running
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import (
    check_owner,
    check_status,
    claim_for,
    plan_move,
    power_on_after,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import (
    SshTarget,
    Transfer,
    allocated_bytes,
    local_receiver,
)
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import cache_name
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation, error_out


def instance_files(paths, record, directory=None):
    """What a move copies, from ``directory`` (default the instance dir):
    [{name, path, dest_name, size, allocated_bytes, copy, skip_if_exists}].
    Swap is never copied (recreated on arrival, as Nova does)."""
    directory = directory or paths.instance_dir(record.uuid)
    files = []
    names = [d['name'] for d in disk_mapping(record)] + [_paths.DISK_INFO]
    for name in names:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            continue
        files.append({'name': name, 'path': path, 'dest_name': '%s/%s' % (record.uuid, name),
                      'size': os.path.getsize(path), 'allocated_bytes': allocated_bytes(path),
                      'copy': name != _paths.DISK_SWAP, 'skip_if_exists': False})
    root = os.path.join(directory, _paths.DISK_ROOT)
    if os.path.exists(root) and record.image:
        backing, _fmt = backing_of(root)
        base_name = cache_name(record.image)
        if backing and os.path.basename(backing) == base_name and os.path.exists(backing):
            for path in (backing, backing + '.json'):
                if os.path.exists(path):
                    files.append({'name': '_base/' + os.path.basename(path), 'path': path,
                                  'dest_name': '_base/' + os.path.basename(path), 'size': os.path.getsize(path),
                                  'allocated_bytes': allocated_bytes(path), 'copy': True, 'skip_if_exists': True})
    return files


def restore_source_copy(host, paths, record, this_host, old_flavor, power_on, wait_timeout, step=None):
    """Nova's finish_revert_migration on the source: ``<uuid>_resize`` becomes
    the instance directory again (a newer copy there, from a same-host or
    shared-storage move, is dropped), the record gets its old flavor (when
    given) and this host back, the domain is defined from the record and
    started when ``power_on``. Returns the Guest."""
    step = step or (lambda _name: None)
    uuid = record.uuid
    inst, resize = paths.instance_dir(uuid), paths.resize_dir(uuid)
    step('restore instance dir')
    if os.path.isdir(resize):
        guest = host.guest_by_uuid(uuid)
        if guest is not None:
            guest.destroy()
        if os.path.isdir(inst):
            shutil.rmtree(inst)
        os.rename(resize, inst)
    if not os.path.exists(paths.instance_file(uuid, _paths.DISK_ROOT)):
        raise MigrationError('root disk of the source copy is missing: neither %s nor %s holds it' % (inst, resize),
                             instance=record.label, step='restore instance dir')
    if old_flavor:
        record.flavor = dict(old_flavor)
    record.host = this_host
    step('define domain')
    guest = host.define(write_guest_xml(paths, record))
    if power_on and guest.power_state() != PowerState.RUNNING:
        step('power on')
        guest.launch()
        wait_running(guest, wait_timeout)
    return guest


def move_plan(migration, files):
    """What a move will do, for the operator (check mode shows exactly this)."""
    copied = [f for f in files if f['copy']]
    return {
        'source': migration['source_compute'], 'destination': migration['dest_compute'],
        'migration_type': migration['migration_type'], 'same_host': migration['same_host'],
        'flavor': {'old': migration['old_flavor'], 'new': migration['new_flavor']},
        'files': _public(files),
        'bytes_to_copy': sum(f['allocated_bytes'] for f in copied),
        'not_copied': [f['name'] for f in files if not f['copy']],
        'power_on_after': power_on_after(migration['old_vm_state']),
    }


def _public(files):
    return [dict((k, v) for k, v in f.items() if k != 'path') for f in files]


class _Move(object):
    """One run of the source's migrate step, phase by phase. What has been
    done so far is read from the migration's status and ``set_aside``, so a
    failure undoes exactly that, and a failure once the hand-over has begun
    (the destination may already hold the record) undoes nothing."""

    def __init__(self, source, record, migration):
        self.source = source
        self.paths = source.paths
        self.record = record
        self.migration = migration
        self.op = Operation(source.store, record, states.EVENT_RESIZE_INSTANCE)
        self.inst = self.paths.instance_dir(record.uuid)
        self.resize = self.paths.resize_dir(record.uuid)
        self.set_aside_done = False

    def enter(self):
        self.op.step('migrating')
        self.source.track(self.record, self.migration, ms.MIGRATING)
        self.op.transition(expected=states.RESIZE_PREP, task_state=states.RESIZE_MIGRATING)
        self.migration['shared_storage'] = os.path.exists(self.paths.probe(self.migration['id']))

    def power_off(self, timeout):
        self.op.step('power off')
        guest = self.source.host.guest_by_uuid(self.record.uuid)
        method = clean_power_off(guest, timeout) if guest is not None else 'not defined'
        self.op.event('power_off', method=method)
        return method

    def set_aside(self):
        self.op.step('rename instance dir')
        if os.path.isdir(self.resize):
            shutil.rmtree(self.resize)         # a leftover of an earlier, reverted attempt
        os.rename(self.inst, self.resize)
        self.set_aside_done = True

    def _receiver(self):
        if self.migration['shared_storage']:
            os.makedirs(self.inst, _paths.DIR_MODE)
            os.chmod(self.inst, _paths.DIR_MODE)
            return local_receiver(self.paths.root), 'this host (shared storage)'
        target = SshTarget(**self.migration['dest_ssh'])
        return target.receiver(self.migration['dest_instances_path']), target.label

    def copy_and_hand_over(self):
        self.op.step('copy disks')
        shared = self.migration['shared_storage']
        files = instance_files(self.paths, self.record, directory=self.resize)
        if shared:
            files = [f for f in files if not f['name'].startswith('_base/')]
        argv, where = self._receiver()
        began = time.monotonic()

        def progress(name, done, total):
            self.op.progress('copy_progress', file=name, bytes_done=done, bytes_total=total)

        with Transfer(argv, where, progress=progress) as transfer:
            sent = [transfer.send(item['path'], item['dest_name'], skip_if_exists=item['skip_if_exists'])
                    for item in files if item['copy']]
            self.op.event('copy', files=len(sent), bytes=transfer.bytes_sent, destination=where,
                          seconds=round(time.monotonic() - began, 3))
            self.migration['files'] = sent
            self._hand_over(transfer)
        return {'files': sent, 'bytes_copied': sum(f['bytes'] for f in sent), 'shared_storage': shared,
                'not_copied': [f['name'] for f in files if not f['copy']]}

    def _handed_record(self):
        handed = self.record.copy()
        handed.host = self.migration['dest_compute']
        handed.task_state = states.RESIZE_MIGRATED
        handed.power_state = PowerState.SHUTDOWN.label
        handed.migration = self.source.migration_ref(self.migration)
        return handed

    def _hand_over(self, transfer):
        """The destination receives the migration, then the record: once its
        record is current there, the instance is the destination's. The
        source's migration says post-migrating before anything is sent, so
        recovery knows that only the destination can tell whether the
        hand-over completed."""
        self.op.step('hand over')
        self.source.migrations.save(self.migration, ms.POST_MIGRATING)
        if self.migration['shared_storage']:
            return                              # one record, one host: handed_over() is the hand-over
        transfer.send_bytes(_json_bytes(self.migration), '_migrations/%s.json' % self.migration['id'])
        self.op.step('send record')
        transfer.send_bytes(_json_bytes(self._handed_record().to_dict()), '_records/%s.json' % self.record.uuid)

    def handed_over(self):
        self.op.step('handed over')
        handed = self._handed_record()
        self.op.transition(expected=states.RESIZE_MIGRATING, host=handed.host, task_state=handed.task_state,
                           power_state=handed.power_state, migration=handed.migration)

    def failed(self, exc):
        """Nova's _cleanup_remote_migration + _error_out_instance_on_exception,
        friendlier: before the hand-over the instance comes back as it was
        on this host; after it began, nothing is undone."""
        if self.migration['status'] == ms.POST_MIGRATING:
            exc.message += ('; the hand-over to %s may have completed: run the reconcile playbook, which asks '
                            'both hosts' % self.migration['dest_compute'])
            return
        if self.set_aside_done and os.path.isdir(self.resize):
            if os.path.isdir(self.inst):
                shutil.rmtree(self.inst)
            os.rename(self.resize, self.inst)
        self.source.track(self.record, self.migration, ms.ERROR)
        self.record.task_state = None
        self.record.vm_state = self.migration['old_vm_state']
        guest = self.source.host.guest_by_uuid(self.record.uuid)
        if guest is not None and power_on_after(self.migration['old_vm_state']) \
                and guest.power_state() != PowerState.RUNNING:
            try:
                guest.launch()
            except NovaliteError:
                pass        # the record says what it is; a hard reboot starts it
        self.record.power_state = power_label(guest)


def _json_bytes(document):
    return json.dumps(document, indent=2, sort_keys=True).encode('utf-8')


class MigrationSource(object):
    def __init__(self, host, paths, store, migrations, this_host):
        self.host = host
        self.paths = paths
        self.store = store
        self.migrations = migrations
        self.this_host = this_host

    def _in_flight(self, record):
        current = (record.migration or {}).get('id')
        migration = self.migrations.load(current) if current else None
        return migration if migration is not None and migration['status'] not in ms.DONE + (ms.ERROR,) else None

    def _files(self, record, same_host):
        files = instance_files(self.paths, record)
        if same_host:
            for item in files:
                if item['name'].startswith('_base/'):
                    item['copy'] = False        # the cache is already here
        return files

    @staticmethod
    def migration_ref(migration):
        """What a record keeps of its current migration."""
        return {'id': migration['id'], 'status': migration['status'],
                'migration_type': migration['migration_type']}

    def track(self, record, migration, status=None):
        if status:
            self.migrations.save(migration, status)
        record.migration = self.migration_ref(migration)

    # -- start -------------------------------------------------------------------
    def start(self, record, dest_host, new_flavor, dest, check_mode=False):
        """Returns (changed, migration, plan)."""
        existing = self._in_flight(record)
        if existing is not None:
            return self._resume_start(record, existing, dest_host, new_flavor, check_mode)
        move = plan_move(record, self.this_host, dest_host, new_flavor)
        files = self._files(record, move['same_host'])
        migration = dict(move, id=None if check_mode else str(uuidlib.uuid4()),
                         instance_uuid=record.uuid, instance_name=record.name, status=ms.PRE_MIGRATING,
                         claim=claim_for(move['new_flavor'], files),
                         source_instances_path=self.paths.root,
                         dest_instances_path=dest.get('instances_path') or self.paths.root,
                         dest_ssh=dest.get('ssh'), shared_storage=None, files=None,
                         virt_type=record.virt_type, networks=record.networks)
        plan = move_plan(migration, files)
        if check_mode:
            return True, migration, plan
        op = Operation(self.store, record, self._start_action(migration))
        op.step('migration record')
        self.migrations.save(migration)
        op.event('start', migration=migration['id'], dest=dest_host)
        self._enter_resize_prep(op, record, migration)
        return True, migration, plan

    @staticmethod
    def _start_action(migration):
        return states.ACTION_RESIZE if migration['migration_type'] == 'resize' else states.ACTION_MIGRATE

    def _enter_resize_prep(self, op, record, migration):
        op.step('resize_prep')
        meta = dict(record.system_metadata or {}, old_vm_state=migration['old_vm_state'])
        self.track(record, migration)
        op.transition(expected=(None, states.RESIZE_PREP), task_state=states.RESIZE_PREP,
                      old_flavor=migration['old_flavor'], new_flavor=migration['new_flavor'],
                      system_metadata=meta)

    def _resume_start(self, record, existing, dest_host, new_flavor, check_mode):
        """A start run again for the move already started: the same
        migration, its task state put back if it was lost; any other move is
        refused until this one is confirmed or reverted."""
        same = existing['dest_compute'] == dest_host and (
            new_flavor is None or flavor_values(new_flavor) == flavor_values(existing['new_flavor']))
        if not same or existing['status'] != ms.PRE_MIGRATING:
            raise MigrationError('migration %s to %s is %s; confirm or revert it first'
                                 % (existing['id'], existing['dest_compute'], existing['status']),
                                 instance=record.label, step='start')
        plan = move_plan(existing, self._files(record, existing['same_host']))
        if record.task_state == states.RESIZE_PREP:
            return False, existing, plan
        if not check_mode:
            self._enter_resize_prep(Operation(self.store, record, self._start_action(existing)), record, existing)
        return True, existing, plan

    # -- migrate -----------------------------------------------------------------
    def migrate(self, record, migration, shutdown_timeout=60):
        """Nova's resize_instance: power off, set the instance dir aside as
        ``<uuid>_resize``, copy, hand over. Returns what was copied."""
        check_owner(record, self.this_host)
        check_status(migration, 'migrate', instance=record.label)
        move = _Move(self, record, migration)
        with move.op.running(on_error=move.failed):
            move.enter()
            result = {'shutdown': move.power_off(shutdown_timeout)}
            move.set_aside()
            result.update(move.copy_and_hand_over())
            move.handed_over()
        return result

    # -- confirm -------------------------------------------------------------------
    def confirm(self, record, migration, reported_status=None):
        """Remove the source copy. Needs the destination to have confirmed
        (``reported_status``) unless this host is also the destination.
        Returns True when something changed."""
        same_host = migration['dest_compute'] == self.this_host
        confirmed = ms.CONFIRMED in (migration['status'], reported_status)
        if not confirmed:
            raise MigrationError('migration %s is not confirmed on the destination %s yet (status %s); '
                                 'confirm it there first' % (migration['id'], migration['dest_compute'],
                                                             reported_status or migration['status']),
                                 instance=record.label, step='confirm')
        changed = False
        resize = self.paths.resize_dir(record.uuid)
        op = Operation(self.store, record, states.EVENT_CONFIRM_RESIZE)
        with op.running():
            op.step('remove source copy')
            if os.path.isdir(resize):
                shutil.rmtree(resize)
                changed = True
            if not same_host:
                op.step('undefine source domain')
                guest = self.host.guest_by_uuid(record.uuid)
                if guest is not None:
                    guest.destroy()
                    guest.undefine()
                    changed = True
            if migration['status'] != ms.CONFIRMED:
                self.track(record, migration, ms.CONFIRMED)
                changed = True
            if not same_host and (record.task_state is not None or changed):
                record.task_state = None
                self.track(record, migration)
                op.transition()
        return changed

    # -- revert --------------------------------------------------------------------
    def revert(self, record, migration, wait_timeout=120, final_status=ms.REVERTED):
        """Bring the instance back here with its old flavor; the migration
        ends at ``final_status`` (reverted when asked for; error when
        recovery abandons an interrupted move). Returns True when something
        changed."""
        resize = self.paths.resize_dir(record.uuid)
        if migration['status'] in (ms.REVERTED, ms.ERROR) and not os.path.isdir(resize) \
                and record.host == self.this_host and record.task_state is None:
            return False
        if migration['status'] not in (ms.REVERTED, ms.ERROR):
            check_status(migration, 'revert', instance=record.label)

        op = Operation(self.store, record, states.EVENT_FINISH_REVERT_RESIZE)
        with op.running(on_error=error_out(record)):
            op.step('reverting')
            if migration['status'] != final_status:
                self.track(record, migration, ms.REVERTING)
            op.transition(task_state=states.RESIZE_REVERTING)
            power_on = power_on_after(migration['old_vm_state'])
            guest = restore_source_copy(self.host, self.paths, record, self.this_host, migration['old_flavor'],
                                        power_on, wait_timeout, step=op.step)
            if not power_on and guest.power_state() != PowerState.SHUTDOWN:
                guest.destroy()
            op.step('reverted')
            _remove_file(self.paths.probe(migration['id']))
            self.track(record, migration, final_status)
            meta = dict(record.system_metadata or {})
            meta.pop('old_vm_state', None)
            op.transition(expected=states.RESIZE_REVERTING, vm_state=migration['old_vm_state'], task_state=None,
                          old_flavor=None, new_flavor=None, system_metadata=meta,
                          power_state=guest.power_state().label)
        return True


def _remove_file(path):
    if os.path.exists(path):
        os.unlink(path)
