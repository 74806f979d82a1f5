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
    (or C(flavor_<vcpus>c_<memory_mb>m) for unnamed flavors), C(novalite_from_cache) (instances of a hypervisor
    that could not be read this time, as its last read found them); more with O(groups) and O(keyed_groups).
  - Every run reads every hypervisor. With O(cache) on (the default), what each one returned is kept in the
    inventory cache, and a hypervisor that cannot be read (down, unreachable) is warned about and its instances are
    yielded from its last successful read, with C(novalite_from_cache=true) and C(novalite_records_read_at), the
    time of that read. That is how C(playbooks/evacuate.yml) knows what a dead host held. The cache is only as fresh
    as the last inventory run that could reach the host (every C(ansible-playbook) or C(ansible-inventory) run with
    this source, and the end of C(playbooks/reconcile.yml), which refreshes the inventory).
  - C(novalite_record) holds the whole record as read, what an evacuation rebuilds from. It includes the
    instance's C(user_data); the cache directory (O(cache_connection)) is created private to its user.
  - Without the cache a hypervisor that cannot be read is an error, as no earlier read can stand in for it.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - constructed
  - inventory_cache
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
  cache:
    description:
      - Keep every hypervisor's last read in the inventory cache and fall back to it for a hypervisor that cannot be
        read. On by default here (Ansible's own default is off).
    default: true
  cache_plugin:
    description:
      - The inventory cache plugin; C(ansible.builtin.jsonfile) by default (one file per inventory source, private to
        its user). At fleet scale a shared backend (C(community.general.redis), C(community.general.memcached)) lets
        every AWX job and controller see the same last reads.
    default: ansible.builtin.jsonfile
  cache_connection:
    description: Where the cache plugin keeps its data; for jsonfile a directory.
    default: ~/.cache/novalite.compute/inventory
  cache_timeout:
    description:
      - Seconds a cached read is kept. 0 (the default here) keeps it until the next successful read of that host -
        the last known state of a host that died must not expire before it is evacuated.
    default: 0
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

# the same, with the last reads kept in redis for every AWX job to share
plugin: novalite.compute.instances
hypervisors:
  - name: hv1
    ssh_host: 10.0.0.11
cache_plugin: community.general.redis
cache_connection: localhost:6379:0
'''

import datetime
import inspect
import json
import os
import re
import shlex
import subprocess

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.novalite.compute.plugins.module_utils._inventory.cache_policy import merged_entries, owned_instances
from ansible_collections.novalite.compute.plugins.module_utils._store import record_reader

DEFAULT_INSTANCES_PATH = '/var/lib/novalite/instances'


def _group_name(prefix, value):
    return '%s_%s' % (prefix, re.sub(r'[^A-Za-z0-9_]', '_', str(value)))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'novalite.compute.instances'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('novalite.yml', 'novalite.yaml', 'instances.yml',
                                                            'instances.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        hypervisors = self.get_option('hypervisors')
        for hypervisor in hypervisors:
            if not hypervisor.get('name'):
                raise AnsibleParserError('%s: every hypervisor needs a name' % path)
        use_cache = self.get_option('cache')
        cache_key = self.get_cache_key(path)
        fresh, failures = self._read_all(hypervisors, tolerate=use_cache)
        cached = self._cached(cache_key) if use_cache else None
        entries, from_cache = merged_entries(fresh, cached, [hv['name'] for hv in hypervisors])
        for name, reason in failures:
            if name in from_cache:
                self.display.warning('%s; its instances are as read at %s (inventory cache)'
                                     % (reason, entries[name].get('read_at')))
            else:
                self.display.warning('%s, and the inventory cache has no earlier read of it' % reason)
        if use_cache:
            self._private_cache_dir()
            self._cache[cache_key] = entries
        by_name = dict((hv['name'], hv) for hv in hypervisors)
        self.inventory.add_group('novalite_instances')
        for owned in owned_instances(entries, from_cache, include_deleted=self.get_option('include_deleted')):
            self._add(by_name[owned.hypervisor], owned)

    def _read_all(self, hypervisors, tolerate):
        """({name: cache entry} of those read now, [(name, why)] of the rest);
        without ``tolerate`` the first that cannot be read is an error."""
        fresh, failures = {}, []
        for hv in hypervisors:
            read_at = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
            try:
                records = self._records(hv)
            except AnsibleParserError as exc:
                if not tolerate:
                    raise
                failures.append((hv['name'], str(exc.message)))
                continue
            fresh[hv['name']] = {'read_at': read_at, 'compute_host': hv.get('compute_host') or hv['name'],
                                 'records': records}
        return fresh, failures

    def _cached(self, cache_key):
        try:
            return self._cache[cache_key]
        except KeyError:
            return None

    def _private_cache_dir(self):
        """The jsonfile cache holds user_data: its directory (which the cache
        plugin made with the umask's mode) is made private to its owner."""
        if self.get_option('cache_plugin') not in ('jsonfile', 'ansible.builtin.jsonfile'):
            return
        directory = os.path.expanduser(os.path.expandvars(self.get_option('cache_connection') or ''))
        if not directory:
            return
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(directory)
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            os.chmod(directory, 0o700)

    def _records(self, hv):
        root = hv.get('instances_path') or DEFAULT_INSTANCES_PATH
        python = hv.get('python') or 'python3'
        argv = [python, '-c', inspect.getsource(record_reader), root]     # the reader ships as its own source
        if hv.get('ssh_host'):
            ssh = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10']
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

    def _add(self, hv, owned):
        record = owned.record
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
            'novalite_instances_path': hv.get('instances_path') or DEFAULT_INSTANCES_PATH,
            'novalite_metadata': record.get('metadata') or {},
            'novalite_locked': bool(record.get('locked')),
            'novalite_from_cache': owned.from_cache,
            'novalite_records_read_at': owned.read_at,
            'novalite_record': record,
        }
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        flavor_label = flavor.get('name') or '%sc_%sm' % (flavor.get('vcpus'), flavor.get('memory_mb'))
        groups = [_group_name('hypervisor', hv['name']), _group_name('vm_state', record.get('vm_state')),
                  _group_name('flavor', flavor_label)]
        if owned.from_cache:
            groups.append('novalite_from_cache')
        for group in groups:
            self.inventory.add_group(group)
            self.inventory.add_child(group, name)
        strict = self.get_option('strict')
        self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
