# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rebuilding an instance of a dead host here (Nova's rebuild_instance for
an evacuation, on the destination), with its uuid, name, flavor, networks
(same MACs), metadata and user data.

Steps (``_common.steps``, action ``evacuate``), each persisted first:
claim (the migration record, migration_type evacuation, status accepted;
then the record naming this host, task_state rebuilding; a claim that fails
writes no record) -> the disks:
from the image (fetch image, create disks, config drive) or, on a shared
instances_path, only what can be recreated without loss -> guest xml ->
define domain -> start domain -> wait for running (unless it was stopped)
-> finish (the record idle, then the migration done).

On failure the domain this run defined is removed and, when the disks
were made from the image, the instance directory too (never on shared
storage); the record stays this host's in vm_state error with the fault,
and the migration stays accepted: running the evacuation again resumes it,
and if the source comes back first the reconcile playbook rolls it back
(``_reconcile.evacuation_fleet_policy``).
"""

from __future__ import annotations

import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation_policy import EVACUATION
from ansible_collections.novalite.compute.plugins.module_utils._instance.spawn import Spawner
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._storage.rebuild import FileRebuilder
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation, collection_error
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, utcnow

# what this host takes from the source's record; the rest starts afresh
CARRIED_FIELDS = ('uuid', 'name', 'flavor', 'image', 'networks', 'metadata', 'key_data', 'user_data',
                  'config_drive', 'virt_type', 'use_cow_images', 'guest_agent', 'created_at', 'locked',
                  'system_metadata')


def migration_ref(migration):
    return {'id': migration['id'], 'status': migration['status'], 'migration_type': EVACUATION}


def evacuated_record(known, this_host, power_on, source):
    """The record this host writes at the claim, from ``known`` (a dict: the
    source's last record, or this host's own on a shared instances_path or
    when resuming)."""
    data = dict((field, known.get(field)) for field in CARRIED_FIELDS if field in known)
    system_metadata = dict(data.get('system_metadata') or {})
    system_metadata.update(evacuated_from=source, old_vm_state=known.get('vm_state'))
    data.update(host=this_host, vm_state=states.ACTIVE if power_on else states.STOPPED,
                task_state=states.REBUILDING, power_state=PowerState.NOSTATE.label, fault=None,
                system_metadata=system_metadata, launched_at=None, old_flavor=None, new_flavor=None)
    return InstanceRecord(data)


class Evacuator(Spawner):
    """Evacuates instances onto the hypervisor ``hv``."""

    def evacuate(self, record, plan, source, power_on=True, wait_timeout=120):
        """Carry out ``plan`` (an ``evacuation_policy.Plan`` that acts) for
        ``record`` (from ``evacuated_record``). Returns (record, migration)."""
        op = Operation(self.store, record, states.ACTION_EVACUATE)
        created = {'dir': None, 'guest': None}
        op.step('claim')
        migration = self._claim(op, record, plan, source)
        with op.running(on_error=lambda _exc: self._evacuation_failed(record, created)):
            self._remove_earlier_guest(record)
            if plan.shared:
                op.step('create disks')
                recreated = FileRebuilder(self.hv).ensure(record)
                op.event('files_recreated', files=recreated)
                op.step('guest xml')
                xml = write_guest_xml(self.paths, record)
            else:
                base = self._fetch_image(op, record)
                op.transition(expected=states.REBUILDING, task_state=states.REBUILD_BLOCK_DEVICE_MAPPING)
                xml = self._write_files(op, record, disk_mapping(record), base, None, created)
            op.transition(task_state=states.REBUILD_SPAWNING)
            guest = self._boot(op, xml, power_on, wait_timeout, created)
            op.step('finish')
            migration['status'] = ms.EVACUATED
            op.transition(expected=states.REBUILD_SPAWNING, task_state=None,
                          power_state=guest.power_state().label, launched_at=utcnow(),
                          migration=migration_ref(migration))
            self.migrations.save(migration)
        return record, migration

    def _claim(self, op, record, plan, source):
        """The migration record first, then the record naming this host and
        the migration: a record never refers to a migration not written.
        Outside ``Operation.running``: a claim that fails leaves no record
        here in error, which would name this host as the owner of an
        instance it never took (the source's disks would then be judged
        stale when it comes back)."""
        try:
            return self._write_claim(op, record, plan, source)
        except NovaliteError as exc:
            raise exc.with_context(instance=record.label, step='claim')
        except Exception as exc:
            raise collection_error(exc, 'claim').with_context(instance=record.label, step='claim') from exc

    def _write_claim(self, op, record, plan, source):
        migration = self.migrations.load(plan.migration_id) if plan.migration_id else None
        if migration is None:
            claim = {'memory_mb': record.flavor['memory_mb']}
            migration = {'id': str(uuidlib.uuid4()), 'instance_uuid': record.uuid, 'instance_name': record.name,
                         'source_compute': source, 'dest_compute': self.this_host, 'migration_type': EVACUATION,
                         'shared_storage': bool(plan.shared), 'claim': claim}
        self.migrations.save(migration, status=ms.ACCEPTED)
        op.event('evacuation', migration=migration['id'], source=source, shared_storage=bool(plan.shared))
        op.transition(migration=migration_ref(migration))
        return migration

    def _remove_earlier_guest(self, record):
        """A domain of this uuid here is an earlier attempt of this
        evacuation (the plan refuses any other case): it is made again."""
        guest = self.host.guest_by_uuid(record.uuid)
        if guest is not None:
            guest.destroy()
            guest.undefine()

    def _evacuation_failed(self, record, created):
        """What a failed evacuation leaves: nothing this run created (never a
        disk of a shared instances_path), the record here in error."""
        self._cleanup(created)
        record.vm_state = states.ERROR
        record.task_state = None
        record.power_state = PowerState.NOSTATE.label
