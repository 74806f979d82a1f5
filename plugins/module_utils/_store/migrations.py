# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration records (Nova's migrations table), one JSON file per migration
under ``_migrations/`` on each host that takes part, written crash-safely.
Statuses are in ``_common.migration_states``.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common.migration_states import CLAIMING
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json, load_all, read_json_record, utcnow


class MigrationStore(object):
    def __init__(self, paths):
        self.paths = paths

    def load(self, migration_id):
        return read_json_record(self.paths.migration(migration_id), 'id', migration_id, 'migration record')

    def save(self, migration, status=None):
        if status is not None:
            migration['status'] = status
        migration['updated_at'] = utcnow()
        migration.setdefault('created_at', migration['updated_at'])
        self.paths.ensure_layout()
        atomic_write_json(self.paths.migration(migration['id']), migration)
        return migration

    # -- an abort asked of a running live migration ---------------------------------
    # Its own file, not a field of the migration: the abort step takes no lock
    # (the migrate run holds it while libvirt's job runs) and must never
    # write the migration over that run's newer copy.
    def request_abort(self, migration_id):
        self.paths.ensure_layout()
        with open(self.paths.abort_request(migration_id), 'w') as handle:
            handle.write(utcnow() + '\n')
            handle.flush()
            os.fsync(handle.fileno())

    def abort_requested(self, migration_id):
        return os.path.exists(self.paths.abort_request(migration_id))

    def clear_abort(self, migration_id):
        try:
            os.unlink(self.paths.abort_request(migration_id))
        except FileNotFoundError:
            pass

    def list(self):
        return load_all(self.paths.migrations_dir, self.load)

    def claimed(self, this_host, exclude=None):
        """(memory_mb, disk_bytes) claimed on ``this_host`` by migrations in
        flight towards it (a same-host resize claims nothing extra)."""
        memory = disk = 0
        for migration in self.list():
            if migration['id'] == exclude or migration.get('status') not in CLAIMING:
                continue
            if migration.get('dest_compute') == this_host != migration.get('source_compute'):
                claim = migration.get('claim') or {}
                memory += claim.get('memory_mb') or 0
                disk += claim.get('disk_bytes') or 0
        return memory, disk
