# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files an interrupted write leaves on a hypervisor, found and removed
without ever touching a live writer's file:

* ``.tmp-*`` in ``_records/``, ``_migrations/`` and ``_base/`` (a record,
  migration or image sidecar that never became current): removed under the
  directory's writers lock held exclusively (``locking.directory_writers``);
* ``_base/<name>.part`` / ``.converted`` (an image fetch cut short), and a
  ``_base/<name>.json`` sidecar whose image never arrived (the fetch writes
  it just before renaming the image into place): removed under that image's
  lock, when nobody holds it;
* ``.novalite-probe-<id>`` and ``_migrations/<id>.abort`` of a migration
  that is over;
* ``_records/<uuid>.actions.jsonl`` of a build that never wrote its first
  record: under the instance's lock, when nobody holds it;
* ``<uuid>/*.tmp`` (libvirt.xml, the config drive): per instance, under its
  lock, by the reconcile engine (``instance_leftovers``).
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._store.locking import directory_writers, release, try_lock
from ansible_collections.novalite.compute.plugins.module_utils._store.records import TMP_PREFIX

PROBE_PREFIX = '.novalite-probe-'
IMAGE_PARTIALS = ('.part', '.converted')


def _listing(directory):
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def temporary_records(paths):
    return [os.path.join(directory, entry)
            for directory in (paths.records_dir, paths.migrations_dir, paths.base_dir, paths.hosts_dir)
            for entry in _listing(directory) if entry.startswith(TMP_PREFIX)]


def partial_images(paths):
    return [os.path.join(paths.base_dir, entry) for entry in _listing(paths.base_dir)
            if entry.endswith(IMAGE_PARTIALS) and not entry.startswith('.')]


SIDECAR = '.json'


def orphan_sidecars(paths):
    """Sidecars in _base with no image beside them."""
    entries = _listing(paths.base_dir)
    present = set(entries)
    return [os.path.join(paths.base_dir, entry) for entry in entries
            if entry.endswith(SIDECAR) and not entry.startswith('.') and entry[:-len(SIDECAR)] not in present]


def probes(paths):
    """{migration id: probe path} of every shared-storage probe here."""
    return dict((entry[len(PROBE_PREFIX):], os.path.join(paths.root, entry))
                for entry in _listing(paths.root) if entry.startswith(PROBE_PREFIX))


ABORT_SUFFIX = '.abort'


def abort_requests(paths):
    """{migration id: path} of every abort asked of a live migration here."""
    return dict((entry[:-len(ABORT_SUFFIX)], os.path.join(paths.migrations_dir, entry))
                for entry in _listing(paths.migrations_dir)
                if entry.endswith(ABORT_SUFFIX) and not entry.startswith('.'))


def _stale_markers(paths, finished_migrations):
    """Probes and abort requests of migrations that are over."""
    found = sorted(probes(paths).items()) + sorted(abort_requests(paths).items())
    return [path for mid, path in found if mid in finished_migrations]


ACTIONS_SUFFIX = '.actions.jsonl'


def orphan_action_logs(paths):
    """{uuid: path} of action logs with no record beside them."""
    entries = _listing(paths.records_dir)
    records = set(entry for entry in entries if entry.endswith('.json'))
    return dict((entry[:-len(ACTIONS_SUFFIX)], os.path.join(paths.records_dir, entry)) for entry in entries
                if entry.endswith(ACTIONS_SUFFIX) and entry[:-len(ACTIONS_SUFFIX)] + '.json' not in records)


def host_leftovers(paths, finished_migrations):
    """Every leftover file of this host that is not an instance's own, for
    the plan. ``finished_migrations``: ids of migrations that are over."""
    return (temporary_records(paths) + partial_images(paths) + orphan_sidecars(paths)
            + _stale_markers(paths, finished_migrations) + sorted(orphan_action_logs(paths).values()))


def _locked_unlink(lock_path, path, unless=None):
    fd = try_lock(lock_path)
    if fd is None:
        return None                     # its owner is at work
    try:
        if unless is not None and unless():
            return None
        return _unlink(path)
    finally:
        release(fd)


def remove_host_leftovers(paths, finished_migrations):
    """Remove what ``host_leftovers`` lists, safely. Returns what was removed."""
    removed = []
    for directory in (paths.records_dir, paths.migrations_dir, paths.base_dir, paths.hosts_dir):
        if not os.path.isdir(directory):
            continue
        with directory_writers(directory, exclusive=True):
            for entry in _listing(directory):
                if entry.startswith(TMP_PREFIX):
                    removed.append(_unlink(os.path.join(directory, entry)))
    for path in partial_images(paths):
        name = os.path.basename(path)
        for suffix in IMAGE_PARTIALS:
            if name.endswith(suffix):
                name = name[:-len(suffix)]
        removed.append(_locked_unlink(paths.image_lock(name), path))
    for path in orphan_sidecars(paths):
        image = path[:-len(SIDECAR)]
        removed.append(_locked_unlink(paths.image_lock(os.path.basename(image)), path,
                                      unless=lambda image=image: os.path.exists(image)))
    for path in _stale_markers(paths, finished_migrations):
        removed.append(_unlink(path))
    for uuid, path in sorted(orphan_action_logs(paths).items()):
        if not os.path.exists(paths.record(uuid)):
            removed.append(_locked_unlink(paths.instance_lock(uuid), path))
    return [path for path in removed if path]


def instance_leftovers(paths, uuid):
    """``.tmp`` files in the instance directory (remove them under its lock)."""
    directory = paths.instance_dir(uuid)
    return [os.path.join(directory, entry) for entry in _listing(directory) if entry.endswith('.tmp')]


def remove_files(paths_):
    return [path for path in (_unlink(path) for path in paths_) if path]


def _unlink(path):
    try:
        if os.path.isdir(path):
            return None
        os.unlink(path)
        return path
    except FileNotFoundError:
        return None
