# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a move copies, and what the operator is shown of it: the files of
an instance (every disk but swap, plus disk.info, and the base image with
its sidecar when the root disk is backed by the image cache), the plan
that step=start returns (check mode shows exactly this), and the record
the source hands over.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import power_on_after
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import allocated_bytes
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import cache_name
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths


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


def handed_record(record, migration_ref, dest_host, task_state, power_state):
    """The record as the destination receives it at the hand-over: its
    host, its task (the cold flow's resize_migrated, the live flow's
    migrating), the guest's power state there."""
    handed = record.copy()
    handed.host = dest_host
    handed.task_state = task_state
    handed.power_state = power_state
    handed.migration = migration_ref
    return handed
