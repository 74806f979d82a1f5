# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_evacuate's module object: the one object that talks to its
AnsibleModule.

validate the last known record -> look at this host (its record of the
uuid, that record's migration, the instance directory, a domain, the name)
-> ``evacuation_policy.destination_plan`` -> check mode reports it; the real
run takes the per-name lock, then the per-instance lock, looks and plans
again under them (``_module.runner.converge``) and carries the plan out
(``evacuation.Evacuator``).
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import (
    VALIDATE_STEP,
    check_text,
    validate_flavor,
    validate_image,
    validate_key_data,
    validate_metadata,
    validate_name,
    validate_networks,
    validate_user_data,
    validate_uuid,
)
from ansible_collections.novalite.compute.plugins.module_utils._instance import evacuation_policy as policy
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation import Evacuator, evacuated_record
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths

VIRT_TYPES = ('kvm', 'qemu')


def validate_known_record(record, user_data=None):
    """The last known record as given (a dict, e.g. the inventory's
    ``novalite_record``), checked as a new instance's options are; the
    fields an evacuation rebuilds from must be there. ``user_data``, when
    given, replaces the record's (it comes as its own no_log option)."""
    if not isinstance(record, dict):
        raise InvalidInput('record must be a dict (the instance\'s last known record)', step=VALIDATE_STEP)
    try:
        name = validate_name(record.get('name'))
    except InvalidInput as exc:
        raise exc.with_context(step=VALIDATE_STEP)
    try:
        return _validated(name, record, user_data)
    except InvalidInput as exc:
        raise exc.with_context(instance=name, step=VALIDATE_STEP)


def _validated(name, record, user_data):
    uuid = validate_uuid(record.get('uuid'))
    if uuid is None:
        raise InvalidInput('record.uuid is required')
    for field in ('host', 'vm_state'):
        if not isinstance(record.get(field), str) or not record[field]:
            raise InvalidInput('record.%s is required' % field)
        check_text('record.%s' % field, record[field])
    if not isinstance(record.get('flavor'), dict):
        raise InvalidInput('record.flavor is required')
    networks = validate_networks(record.get('networks'))
    for index, nic in enumerate(networks):
        if not nic['mac']:
            raise InvalidInput('record.networks[%d] has no MAC address: the instance must keep its MACs' % index)
    virt_type = record.get('virt_type') or 'kvm'
    if virt_type not in VIRT_TYPES:
        raise InvalidInput('record.virt_type must be one of %s, got %r' % (', '.join(VIRT_TYPES), virt_type))
    known = dict(record)
    known.update(
        uuid=uuid, name=name, flavor=validate_flavor(record['flavor']),
        image=validate_image(record['image']) if record.get('image') else None,
        networks=networks, metadata=validate_metadata(record.get('metadata')),
        key_data=validate_key_data(record.get('key_data')),
        user_data=validate_user_data(user_data if user_data is not None else record.get('user_data')),
        config_drive=bool(record.get('config_drive')), virt_type=virt_type,
        use_cow_images=record.get('use_cow_images', True) is not False,
        guest_agent=bool(record.get('guest_agent')))
    return known


class EvacuateModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        super().__init__(Hypervisor.from_params(self.params))
        self.evacuator = Evacuator(self.hv)

    # -- looking ------------------------------------------------------------------------
    def _assess(self, known, source):
        """(plan, this host's record or None) from what this host holds now."""
        local = self.store.load(known['uuid'])
        migration = None
        if local is not None and local.migration:
            migration = self.migrations.load(local.migration.get('id'))
        named = self.store.find_by_name(known['name'])
        observed = {
            'root_disk': os.path.exists(self.paths.instance_file(known['uuid'], _paths.DISK_ROOT)),
            'instance_dir': os.path.isdir(self.paths.instance_dir(known['uuid'])),
            'defined': self.host.guest_by_uuid(known['uuid']) is not None,
            'name_taken_by': named.uuid if named is not None and named.uuid != known['uuid'] else None,
        }
        plan = policy.destination_plan(known, local.to_dict() if local is not None else None, migration, source,
                                       self.this_host, observed)
        if plan.kind == policy.REBUILD and not plan.shared and not known.get('image'):
            plan = policy.Plan(policy.REFUSE, 'its record names no image to rebuild the root disk from, and the '
                                              'storage is not shared')
        return plan, local

    # -- running ------------------------------------------------------------------------
    def run(self):
        known = validate_known_record(self.params['record'], self.params.get('user_data'))
        source = self.params['source_host']
        check_text('source_host', source)
        if source == self.this_host:
            raise InvalidInput('source_host %s is this host: an evacuation rebuilds on another host' % source,
                               instance=known['name'], step=VALIDATE_STEP)
        with self.host:
            return converge(
                self.module.check_mode,
                assess=lambda _previous: self._assess(known, source),
                act=lambda look: self._act(known, source, look),
                report=lambda look: self._result(known, look, None),
                locks=(lambda _look: self._name_lock(known),
                       lambda look: self.store.lock(known['uuid'], known['name']) if look[0].acts else None))

    def _name_lock(self, known):
        self.paths.ensure_layout()
        return self.store.name_lock(known['name'])

    def _act(self, known, source, look):
        plan, local = look
        if plan.kind == policy.REFUSE:
            raise InvalidInput('cannot evacuate from %s: %s' % (source, plan.reason), instance=known['name'],
                               step='plan')
        if not plan.acts:
            return self._result(known, look, None)
        base = self._base(known, plan, local)
        power_on = policy.powered_on_after(base)
        record = evacuated_record(base, self.this_host, power_on, source)
        if self.params.get('user_data') is not None:
            record.user_data = known['user_data']
        self.evacuator.evacuate(record, plan, source, power_on=power_on, wait_timeout=self.params['wait_timeout'])
        return self._result(known, look, record)

    @staticmethod
    def _base(known, plan, local):
        """The record the evacuation starts from: the last known one, or this
        host's own (the same file as the source's on shared storage; an
        earlier attempt's, whose vm_state before it began is kept)."""
        if local is None:
            return known
        base = local.to_dict()
        if plan.kind == policy.RESUME:
            base['vm_state'] = (base.get('system_metadata') or {}).get('old_vm_state') or base['vm_state']
        return base

    def _result(self, known, look, record):
        plan, local = look
        if plan.kind == policy.REFUSE:
            raise InvalidInput('cannot evacuate from %s: %s' % (self.params['source_host'], plan.reason),
                               instance=known['name'], step='plan')
        evacuation = plan.to_dict()
        evacuation['abandoned_task'] = policy.abandoned(known)
        evacuation['powered_on'] = policy.powered_on_after(self._base(known, plan, local))
        if record is not None:
            evacuation['migration'] = record.migration['id']
        shown = record if record is not None else local
        if shown is not None:
            instance = record_view(shown, self.paths)
        else:
            instance = {'uuid': known['uuid'], 'name': known['name']}
        return {'changed': plan.acts, 'evacuation': evacuation, 'instance': instance}
