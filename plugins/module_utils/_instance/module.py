# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance flow's module objects, each the one object that talks to its
AnsibleModule: ``InstanceModule`` (libvirt_instance, here) and
``EvacuateModule`` (instance_evacuate, in ``evacuate_module``).

libvirt_instance:

find the instance -> observe libvirt -> plan (pure) -> execute or, in check
mode, only report. The plan is computed by the same function either way;
the real run computes it under the per-name lock (one instance per name, even
when two runs of a new name start together) and again under the
per-instance lock, taken after the name lock (the sequence is
``_module.runner.converge``). What each step predicts and does is the table
in ``_instance/steps.py``. What the task asks but the plan leaves alone (a
``guest_agent`` other than the one the instance was built with) is returned
as a warning, from the same look (``_instance.policy.not_applied``).
"""

from __future__ import annotations

import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import DomainNotManaged, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import normalise
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuate_module import EvacuateModule
from ansible_collections.novalite.compute.plugins.module_utils._instance.lifecycle import Lifecycle
from ansible_collections.novalite.compute.plugins.module_utils._instance.policy import is_live, managed_view, not_applied, plan
from ansible_collections.novalite.compute.plugins.module_utils._instance.spawn import Spawner
from ansible_collections.novalite.compute.plugins.module_utils._instance.steps import execute, predict
from ansible_collections.novalite.compute.plugins.module_utils._module.diff import DifferenceTracker
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.lookup import observed_of
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord


__all__ = ('InstanceModule', 'EvacuateModule')


class InstanceModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.params = params
        super().__init__(Hypervisor.from_params(params))
        self.lifecycle = Lifecycle(self.hv)
        self.spawner = Spawner(self.hv)
        self.step_results = {}
        self.warnings = []

    # -- finding -------------------------------------------------------------
    def _find_record(self, desired):
        """The record this task is about, or None for a new instance."""
        by_name = self.store.find_by_name(desired['name'])
        if desired['uuid']:
            record = self.store.load(desired['uuid'])
            if is_live(record) and record.name != desired['name']:
                raise InvalidInput('uuid %s belongs to instance %s, not %s (renaming is not supported)'
                                   % (desired['uuid'], record.name, desired['name']))
            if by_name is not None and by_name.uuid != desired['uuid']:
                raise InvalidInput('instance %s already exists with uuid %s'
                                   % (desired['name'], by_name.uuid))
            return record
        return by_name

    def _observe(self, desired, record):
        """(guest or None, observed dict). A domain, found by uuid or by name,
        must be ours (carry our metadata for this host) to be touched."""
        uuid = record.uuid if record is not None else desired['uuid']
        try:
            guest = self.host.guest_by_uuid(uuid) if uuid else None
            named = self.host.guest_by_name(desired['name']) if guest is None and not is_live(record) else None
            if named is not None:
                self.host.check_managed(named)
        except DomainNotManaged as exc:
            raise exc.with_context(instance=desired['name'])
        if named is not None:
            if desired['state'] != 'absent' or (uuid and named.uuid != uuid):
                raise InvalidInput('a libvirt domain named %s (uuid %s) exists without an instance record '
                                   'on this host; remove it with state=absent first'
                                   % (desired['name'], named.uuid))
            guest = named
        return guest, observed_of(guest)

    def _assess(self, desired):
        record = self._find_record(desired)
        if is_live(record):
            check_owner(record, self.this_host)
        guest, observed = self._observe(desired, record)
        steps = plan(desired, record, observed)
        # The last look is the one reported (check mode) or acted on.
        self.warnings = not_applied(desired, record, steps)
        return record, guest, observed, steps

    @staticmethod
    def _uuid_of(desired, record, guest):
        """The uuid the instance has or gets: its record's, the one asked
        for, its domain's, or a new one."""
        return (record.uuid if record is not None else None) or desired['uuid'] \
            or (guest.uuid if guest is not None else None) or str(uuidlib.uuid4())

    # -- running (the sequence of _module.runner) ----------------------------
    def run(self):
        desired = normalise(self.params)
        with self.host:
            record, steps, before = converge(
                self.module.check_mode,
                assess=lambda _previous: self._assess(desired),
                act=lambda look: self._act(desired, look),
                report=self._report,
                locks=(lambda _look: self._name_lock(desired),
                       lambda look: self._instance_lock(desired, look)),
                look_first=False)
            after = predict(before, steps, desired)
            for warning in self.warnings:
                self.module.warn(warning)
            return self._result(record, steps, before, after)

    @staticmethod
    def _report(look):
        """Check mode: (record, steps, before) of the unlocked look."""
        record, _guest, observed, steps = look
        return record, steps, managed_view(record, observed)

    def _name_lock(self, desired):
        """The real run's first lock, taken before any look: the per-name
        lock, so a second run of a name being built waits and finds the
        instance instead of building another."""
        self.paths.ensure_layout()
        return self.store.name_lock(desired['name'])

    def _instance_lock(self, desired, look):
        """The per-instance lock (taken after the name lock, always), or
        None when the look under the name lock plans nothing."""
        record, guest, _observed, steps = look
        if not steps:
            return None
        uuid = self._uuid_of(desired, record, guest)
        desired['uuid'] = uuid
        return self.store.lock(uuid, desired['name'])

    def _act(self, desired, look):
        """The real run: the steps of the last look (_instance/steps.py),
        under the locks. Returns (record, steps, before)."""
        record, guest, observed, steps = look
        before = managed_view(record, observed)
        return execute(self, desired, record, guest, steps), steps, before

    def new_record(self, desired, old):
        """A fresh record for a new instance (or a build that never launched)."""
        keep = old.to_dict() if old is not None and is_live(old) else {}
        return InstanceRecord({
            'uuid': desired['uuid'],
            'name': desired['name'],
            'host': self.this_host,
            'vm_state': states.BUILDING,
            'task_state': None,
            'flavor': desired['flavor'],
            'image': desired['image'],
            'networks': [dict(n) for n in desired['networks']],
            'metadata': desired['metadata'] or {},
            'key_data': desired['key_data'],
            'user_data': desired['user_data'],
            'config_drive': desired['config_drive'],
            'virt_type': desired['virt_type'],
            'use_cow_images': desired['use_cow_images'],
            'guest_agent': bool(desired['guest_agent']),
            'created_at': keep.get('created_at'),
        })

    def _result(self, record, steps, before, after):
        result = {
            'changed': bool(steps),
            'plan': [step.to_dict() for step in steps],
        }
        result.update(self.step_results)
        if record is not None and not self.module.check_mode:
            record = self.store.load(record.uuid) or record
        result['instance'] = record_view(record, self.paths) if record is not None else {}
        result['instance']['state'] = after['state']
        if self.module._diff:
            tracker = DifferenceTracker()
            for key in sorted(set(before) | set(after)):
                tracker.add(key, before.get(key), after.get(key))
            result['diff'] = tracker.get_diff()
        return result
