"""Many instances, quickly: one template instance is spawned through
libvirt_instance (stopped), then cloned M times by writing what a spawn
leaves (the record, the instance directory with its libvirt.xml, the defined
domain) with new uuids and names. The clones' disks are not copied: none of
them is started, and what the benchmarks measure (reconcile, inventory,
placement) reads records and domains, never disks.

``make_stale(path)`` turns every clone's record into the stale state the
reconcile benchmark needs: the record says running, the domain is shut off.
"""

import glob
import json
import os
import shutil
import uuid as uuidlib

import libvirt

from bench_common import module

TEMPLATE = 'bench-template'


def spawn_template(uri, path, compute_host, url, virt_type):
    module('libvirt_instance', {'name': TEMPLATE, 'uri': uri, 'instances_path': path, 'compute_host': compute_host,
                                'virt_type': virt_type, 'state': 'stopped', 'config_drive': False,
                                'flavor': {'vcpus': 1, 'memory_mb': 64}, 'image': {'url': url}})
    for record_file in glob.glob(os.path.join(path, '_records', '*.json')):
        with open(record_file) as handle:
            record = json.load(handle)
        if record['name'] == TEMPLATE:
            return record
    raise SystemExit('the template instance has no record under %s' % path)


def clone(conn, path, template, count, prefix, metadata=None, source=None, host=None):
    """``count`` clones of the template (names ``<prefix>-<n>``) under
    ``path``; returns their uuids. ``source``: the template's instances_path
    when it is another one; ``host``: the compute_host of the clones when it
    is not the template's."""
    source = source or path
    with open(os.path.join(source, template['uuid'], 'libvirt.xml')) as handle:
        xml = handle.read()
    if source != path:
        xml = xml.replace(source, path)
    if host:
        xml = xml.replace('>%s<' % template['host'], '>%s<' % host)
    made = []
    for n in range(count):
        uuid, name = str(uuidlib.uuid4()), '%s-%03d' % (prefix, n)
        record = dict(template, uuid=uuid, name=name, metadata=dict(template.get('metadata') or {}, **(metadata or {})))
        if host:
            record['host'] = host
        directory = os.path.join(path, uuid)
        os.mkdir(directory, 0o711)
        text = xml.replace(template['uuid'], uuid).replace('>%s<' % TEMPLATE, '>%s<' % name)
        with open(os.path.join(directory, 'libvirt.xml'), 'w') as handle:
            handle.write(text)
        conn.defineXML(text)
        _write(os.path.join(path, '_records', uuid + '.json'), record)
        made.append(uuid)
    return made


def make_stale(path, uuids):
    """Every listed record says running (the domains are shut off)."""
    for uuid in uuids:
        record_file = os.path.join(path, '_records', uuid + '.json')
        with open(record_file) as handle:
            record = json.load(handle)
        record.update(vm_state='active', power_state='running', task_state=None)
        _write(record_file, record)


def remove(uri, path, keep_root=False):
    """Undefine every domain whose files are under ``path`` and remove
    ``path`` (with ``keep_root``, only what is inside it)."""
    conn = libvirt.open(uri)
    try:
        for domain in conn.listAllDomains():
            if domain.UUIDString() in _instance_dirs(path):
                if domain.isActive():
                    domain.destroy()
                domain.undefine()
    finally:
        conn.close()
    if not keep_root:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in _listing(path):
        target = os.path.join(path, entry)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            os.unlink(target)


def _listing(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _instance_dirs(path):
    return set(entry for entry in _listing(path) if not entry.startswith(('_', '.')))


def _write(target, data):
    with open(target, 'w') as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.chmod(target, 0o600)
