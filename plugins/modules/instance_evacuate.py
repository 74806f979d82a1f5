#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: instance_evacuate
short_description: Rebuild an instance of a dead hypervisor on this one (Nova's evacuate)
version_added: 0.1.0
description:
  - Runs on the destination. Rebuilds the instance whose last known record is O(record) (the
    C(novalite_record) host variable of the C(novalite.compute.instances) inventory, kept in its cache while
    its hypervisor is down) with the same uuid, name, flavor, networks (the same MAC addresses), metadata, SSH keys
    and user data.
  - On an instances_path shared with the source (its records and instance directories are seen here) the disks are
    kept. Otherwise the root disk is made again from the record's image - what was written on it is lost, as in Nova
    without shared storage - and the ephemeral disk and swap are new.
  - A stopped instance stays stopped; an active or errored one is started.
  - This module does not check that the source is down and fenced; C(playbooks/evacuate.yml) does, and chooses
    each destination by placement. Never evacuate from a host that may still run the guest.
  - The evacuation is recorded as a migration (migration_type C(evacuation)) on this host - C(accepted), then
    C(done). When the source comes back, C(playbooks/reconcile.yml) destroys its stale domain and, for a done
    evacuation without shared storage, removes its local disks; an evacuation that never finished is rolled back to
    the source instead.
  - Running it again after a failure or a crash resumes the same evacuation; after it is done it changes nothing.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
  - novalite.compute.image_fetch
  - novalite.compute.wait_timeout
options:
  record:
    description:
      - The instance's last known record on O(source_host), as the inventory plugin gives it (C(novalite_record)).
      - Needs C(uuid), C(name), C(host) (must be O(source_host)), C(vm_state), C(flavor), C(networks) with their
        C(mac), and C(image) unless the storage is shared. Its C(user_data), if any, is used unless O(user_data)
        is given.
    type: dict
    required: true
  user_data:
    description:
      - The instance's user data, given apart from O(record) so that it is not logged. Replaces the record's.
    type: str
  source_host:
    description: The compute_host name of the dead hypervisor the instance was on.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reports the plan (rebuild, resume, done or why not) and writes nothing.
  diff_mode:
    support: none
    description: Nothing to compare; the result says what was rebuilt and how.
  idempotent:
    support: full
    description: Once the evacuation is done here, running it again changes nothing; after a failure it resumes.
'''

EXAMPLES = r'''
- name: Rebuild web1 of the dead hv1 here (the playbook does this for every instance of hv1)
  novalite.compute.instance_evacuate:
    compute_host: hv2
    source_host: hv1
    record: "{{ hostvars['web1'].novalite_record | dict2items | rejectattr('key', 'eq', 'user_data') | items2dict }}"
    user_data: "{{ hostvars['web1'].novalite_record.user_data | default(omit, true) }}"
'''

RETURN = r'''
evacuation:
  description: What was done (in check mode, what would be).
  returned: success
  type: dict
  contains:
    action:
      description: V(rebuild), V(resume) (an earlier attempt is finished) or V(done) (nothing to do).
      type: str
    reason:
      description: Why, including whether the root disk was kept or rebuilt from the image.
      type: str
    shared_storage:
      description: Whether the disks were kept (instances_path shared with the source); null when nothing was done.
      type: bool
    migration:
      description: The id of the evacuation's migration record on this host.
      type: str
    abandoned_task:
      description: The task_state the instance had when its host was last read (that operation is abandoned), or null.
      type: str
    powered_on:
      description: Whether the rebuilt instance is started (a stopped one stays stopped).
      type: bool
instance:
  description: The instance record on this host after the run (user_data left out).
  returned: success
  type: dict
error:
  description: Class of the failure, for example V(InvalidInput).
  returned: on failure
  type: str
step:
  description: The step that failed, for example V(plan) or V(fetch image).
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._instance.module import EvacuateModule
from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import fetch_options, hypervisor_options, timeout_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            record=dict(type='dict', required=True),
            user_data=dict(type='str', no_log=True),
            source_host=dict(type='str', required=True),
            **dict(timeout_options('wait_timeout'), **hypervisor_options(), **fetch_options())
        ),
        supports_check_mode=True,
    )
    run_module(module, EvacuateModule, default_step='evacuate')


if __name__ == '__main__':
    main()
