# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: instances
short_description: novalite.compute instances as inventory hosts, read from each hypervisor's records
version_added: 0.1.0
description:
  - Reads the instance records that novalite.compute keeps on each hypervisor (C(<instances_path>/_records/*.json))
    and yields every instance a hypervisor owns as an inventory host, named after the instance.
  - A hypervisor is read on this machine, or over SSH by a small standard-library Python program (nothing to install there).
  - Host variables - C(novalite_uuid), C(novalite_vm_state), C(novalite_power_state), C(novalite_task_state),
    C(novalite_flavor), C(novalite_host) (the owner's compute_host), C(novalite_hypervisor) (the hypervisor's
    inventory name, what the playbooks C(delegate_to)) and C(novalite_instances_path).
  - Groups - C(novalite_instances) (all), C(hypervisor_<name>), C(vm_state_<state>), C(flavor_<flavor name>)
    (or C(flavor_<vcpus>c_<memory_mb>m) for unnamed flavors); more with O(groups) and O(keyed_groups).
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: ['novalite.compute.instances']
  hypervisors:
    description: The hypervisors to read.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Inventory name of the hypervisor (C(novalite_hypervisor) of its instances).
        type: str
        required: true
      compute_host:
        description: Its name in the records (the modules' C(compute_host)); defaults to O(hypervisors[].name).
        type: str
      instances_path:
        description: Its instances_path.
        type: str
        default: /var/lib/novalite/instances
      ssh_host:
        description: Read it over SSH from this address; omitted, the records are read on this machine.
        type: str
      ssh_user:
        description: SSH user.
        type: str
      ssh_port:
        description: SSH port.
        type: int
      ssh_key:
        description: Private key file.
        type: str
      python:
        description: Python interpreter on the hypervisor.
        type: str
        default: python3
  include_deleted:
    description: Also yield instances whose record says deleted.
    type: bool
    default: false
'''

EXAMPLES = r'''
# novalite.instances.yml
plugin: novalite.compute.instances
hypervisors:
  - name: hv1
  - name: hv2
    ssh_host: 10.0.0.12
    ssh_user: root
keyed_groups:
  - key: novalite_metadata.role | default('none')
    prefix: role

# ansible-inventory -i novalite.instances.yml --graph
'''

import inspect
import json
import os
import re
import shlex
import subprocess

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.novalite.compute.plugins.module_utils._store import record_reader


def _group_name(prefix, value):
    return '%s_%s' % (prefix, re.sub(r'[^A-Za-z0-9_]', '_', str(value)))


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = 'novalite.compute.instances'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('novalite.yml', 'novalite.yaml', 'instances.yml',
                                                            'instances.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        self.inventory.add_group('novalite_instances')
        for hypervisor in self.get_option('hypervisors'):
            if not hypervisor.get('name'):
                raise AnsibleParserError('%s: every hypervisor needs a name' % path)
            for record in self._records(hypervisor):
                self._add(hypervisor, record)

    def _records(self, hv):
        root = hv.get('instances_path') or '/var/lib/novalite/instances'
        python = hv.get('python') or 'python3'
        argv = [python, '-c', inspect.getsource(record_reader), root]     # the reader ships as its own source
        if hv.get('ssh_host'):
            ssh = ['ssh', '-o', 'BatchMode=yes']
            if hv.get('ssh_port'):
                ssh += ['-p', str(hv['ssh_port'])]
            if hv.get('ssh_key'):
                ssh += ['-i', os.path.expanduser(hv['ssh_key'])]
            if hv.get('ssh_user'):
                ssh += ['-l', hv['ssh_user']]
            argv = ssh + ['--', hv['ssh_host'], ' '.join(shlex.quote(a) for a in argv)]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AnsibleParserError('cannot read the records of %s: %s' % (hv['name'], exc))
        if proc.returncode != 0:
            raise AnsibleParserError('cannot read the records of %s: %s' % (hv['name'], proc.stderr.strip()[-500:]))
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise AnsibleParserError('the records of %s are not JSON' % hv['name'])

    def _add(self, hv, record):
        owner = hv.get('compute_host') or hv['name']
        if record.get('host') != owner or not record.get('name'):
            return                      # the owning hypervisor yields it
        if record.get('vm_state') == 'deleted' and not self.get_option('include_deleted'):
            return
        name = record['name']
        self.inventory.add_host(name, group='novalite_instances')
        flavor = record.get('flavor') or {}
        variables = {
            'novalite_uuid': record.get('uuid'),
            'novalite_vm_state': record.get('vm_state'),
            'novalite_power_state': record.get('power_state'),
            'novalite_task_state': record.get('task_state'),
            'novalite_flavor': flavor,
            'novalite_host': record.get('host'),
            'novalite_hypervisor': hv['name'],
            'novalite_instances_path': hv.get('instances_path') or '/var/lib/novalite/instances',
            'novalite_metadata': record.get('metadata') or {},
            'novalite_locked': bool(record.get('locked')),
        }
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        flavor_label = flavor.get('name') or '%sc_%sm' % (flavor.get('vcpus'), flavor.get('memory_mb'))
        for group in (_group_name('hypervisor', hv['name']), _group_name('vm_state', record.get('vm_state')),
                      _group_name('flavor', flavor_label)):
            self.inventory.add_group(group)
            self.inventory.add_child(group, name)
        strict = self.get_option('strict')
        self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
