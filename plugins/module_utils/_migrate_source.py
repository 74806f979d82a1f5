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

from ansible_collections.novalite.compute.plugins.module_utils import _migrations as ms
from ansible_collections.novalite.compute.plugins.module_utils import _paths
from ansible_collections.novalite.compute.plugins.module_utils import _states as states
from ansible_collections.novalite.compute.plugins.module_utils._actions import Operation, error_out
from ansible_collections.novalite.compute.plugins.module_utils._designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._errors import MigrationError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._image_cache import cache_name
from ansible_collections.novalite.compute.plugins.module_utils._lifecycle import clean_power_off
from ansible_collections.novalite.compute.plugins.module_utils._migration_policy import (
    check_owner,
    check_status,
    claim_for,
    plan_move,
    power_on_after,
)
from ansible_collections.novalite.compute.plugins.module_utils._plan import flavor_values
from ansible_collections.novalite.compute.plugins.module_utils._power import PowerState, power_label
from ansible_collections.novalite.compute.plugins.module_utils._rebuild import backing_of
from ansible_collections.novalite.compute.plugins.module_utils._spawn import wait_running, write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._transfer import (
    SshTarget,
    Transfer,
    allocated_bytes,
    local_receiver,
)


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

    def _track(self, record, migration, status=None):
        if status:
            self.migrations.save(migration, status)
        record.migration = {'id': migration['id'], 'status': migration['status'],
                            'migration_type': migration['migration_type']}

    # -- start -------------------------------------------------------------------
    def start(self, record, dest_host, new_flavor, dest, check_mode=False):
        """Returns (changed, migration, plan)."""
        existing = self._in_flight(record)
        if existing is not None:
            same = existing['dest_compute'] == dest_host and (
                new_flavor is None or flavor_values(new_flavor) == flavor_values(existing['new_flavor']))
            if same and existing['status'] == ms.PRE_MIGRATING:
                return False, existing, move_plan(existing, self._files(record, existing['same_host']))
            raise MigrationError('migration %s to %s is %s; confirm or revert it first'
                                 % (existing['id'], existing['dest_compute'], existing['status']),
                                 instance=record.label, step='start')
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
        action = states.ACTION_RESIZE if move['migration_type'] == 'resize' else states.ACTION_MIGRATE
        op = Operation(self.store, record, action)
        self.migrations.save(migration)
        op.event('start', migration=migration['id'], dest=dest_host)
        meta = dict(record.system_metadata or {}, old_vm_state=record.vm_state)
        self._track(record, migration)
        op.transition(expected=None, task_state=states.RESIZE_PREP, old_flavor=move['old_flavor'],
                      new_flavor=move['new_flavor'], system_metadata=meta)
        return True, migration, plan

    # -- migrate -----------------------------------------------------------------
    def migrate(self, record, migration, shutdown_timeout=60, wait_timeout=120):
        check_owner(record, self.this_host)
        check_status(migration, 'migrate', instance=record.label)
        uuid = record.uuid
        inst, resize = self.paths.instance_dir(uuid), self.paths.resize_dir(uuid)
        op = Operation(self.store, record, states.EVENT_RESIZE_INSTANCE)
        done = {'renamed': False, 'handed_over': False}
        result = {}

        def rollback(_exc):
            # Nova's _cleanup_remote_migration + _error_out_instance_on_exception,
            # friendlier: the instance comes back as it was on this host.
            if done['handed_over']:
                record.vm_state = states.ERROR
                record.task_state = None
                self._track(record, migration, ms.ERROR)
                return
            if done['renamed'] and os.path.isdir(resize):
                if os.path.isdir(inst):
                    shutil.rmtree(inst)
                os.rename(resize, inst)
            self._track(record, migration, ms.ERROR)
            record.task_state = None
            record.vm_state = migration['old_vm_state']
            guest = self.host.guest_by_uuid(uuid)
            if guest is not None and power_on_after(migration['old_vm_state']) \
                    and guest.power_state() != PowerState.RUNNING:
                try:
                    guest.launch()
                except NovaliteError:
                    pass        # the record says what it is; a hard reboot starts it
            record.power_state = power_label(guest)

        with op.running(on_error=rollback):
            op.step('migrating')
            self._track(record, migration, ms.MIGRATING)
            op.transition(expected=states.RESIZE_PREP, task_state=states.RESIZE_MIGRATING)
            shared = os.path.exists(self.paths.probe(migration['id']))
            migration['shared_storage'] = shared

            op.step('power off')
            guest = self.host.guest_by_uuid(uuid)
            result['shutdown'] = clean_power_off(guest, shutdown_timeout) if guest is not None else 'not defined'
            op.event('power_off', method=result['shutdown'])

            op.step('rename instance dir')
            if os.path.isdir(resize):
                shutil.rmtree(resize)         # a leftover of an earlier, reverted attempt
            os.rename(inst, resize)
            done['renamed'] = True

            op.step('copy disks')
            files = instance_files(self.paths, record, directory=resize)
            if shared:
                os.makedirs(inst, 0o755)
                os.chmod(inst, 0o755)
                argv, where = local_receiver(self.paths.root), 'this host (shared storage)'
                files = [f for f in files if not f['name'].startswith('_base/')]
            else:
                target = SshTarget(**migration['dest_ssh'])
                argv, where = target.receiver(migration['dest_instances_path']), target.label
            sent = []
            began = time.monotonic()

            def progress(name, done, total):
                op.progress('copy_progress', file=name, bytes_done=done, bytes_total=total)

            with Transfer(argv, where, progress=progress) as transfer:
                for item in files:
                    if item['copy']:
                        sent.append(transfer.send(item['path'], item['dest_name'],
                                                  skip_if_exists=item['skip_if_exists']))
                op.event('copy', files=len(sent), bytes=transfer.bytes_sent, destination=where,
                         seconds=round(time.monotonic() - began, 3))
                migration['files'] = sent

                op.step('hand over')
                record.host = migration['dest_compute']
                record.task_state = states.RESIZE_MIGRATED
                migration['status'] = ms.POST_MIGRATING
                self._track(record, migration)
                if not shared:
                    transfer.send_bytes(json.dumps(migration, indent=2, sort_keys=True).encode('utf-8'),
                                        '_migrations/%s.json' % migration['id'])
                    transfer.send_bytes(json.dumps(record.to_dict(), indent=2, sort_keys=True).encode('utf-8'),
                                        '_records/%s.json' % uuid)
                done['handed_over'] = True
            self.migrations.save(migration, ms.POST_MIGRATING)
            op.transition(expected=states.RESIZE_MIGRATING, host=migration['dest_compute'],
                          task_state=states.RESIZE_MIGRATED, power_state=PowerState.SHUTDOWN.label)
        result.update(files=sent, bytes_copied=sum(f['bytes'] for f in sent), shared_storage=shared,
                      not_copied=[f['name'] for f in files if not f['copy']])
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
                self._track(record, migration, ms.CONFIRMED)
                changed = True
            if not same_host and (record.task_state is not None or changed):
                record.task_state = None
                self._track(record, migration)
                op.transition()
        return changed

    # -- revert --------------------------------------------------------------------
    def revert(self, record, migration, wait_timeout=120):
        """Bring the instance back here with its old flavor. Returns True
        when something changed."""
        resize = self.paths.resize_dir(record.uuid)
        if migration['status'] == ms.REVERTED and not os.path.isdir(resize) \
                and record.host == self.this_host and record.task_state is None:
            return False
        if migration['status'] != ms.REVERTED:
            check_status(migration, 'revert', instance=record.label)

        op = Operation(self.store, record, states.EVENT_FINISH_REVERT_RESIZE)
        with op.running(on_error=error_out(record)):
            op.step('reverting')
            self._track(record, migration, ms.REVERTING)
            op.transition(task_state=states.RESIZE_REVERTING)
            power_on = power_on_after(migration['old_vm_state'])
            guest = restore_source_copy(self.host, self.paths, record, self.this_host, migration['old_flavor'],
                                        power_on, wait_timeout, step=op.step)
            if not power_on and guest.power_state() != PowerState.SHUTDOWN:
                guest.destroy()
            self.migrations.save(migration, ms.REVERTED)
            self._track(record, migration)
            meta = dict(record.system_metadata or {})
            meta.pop('old_vm_state', None)
            op.transition(expected=states.RESIZE_REVERTING, vm_state=migration['old_vm_state'], task_state=None,
                          old_flavor=None, new_flavor=None, system_metadata=meta,
                          power_state=guest.power_state().label)
        return True
