# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_migrate's engine: the one object that talks to AnsibleModule.

Each run is one step on one host, as in Nova each compute step runs on one
compute node; the resize role chains them with delegate_to:

    start (source) -> prep (dest) -> migrate (source) -> finish (dest)
    -> confirm (dest, then source)  or  revert (dest, then source)

A host that is both source and destination (same-host resize) does both
halves of confirm and revert in one run.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceNotFound,
    InvalidInput,
    MigrationError,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import (
    validate_flavor,
    validate_host,
    validate_port,
    validate_ssh_user,
    validate_uuid,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.dest import MigrationDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.lookup import find_instance
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import fetch_settings
from ansible_collections.novalite.compute.plugins.module_utils._store.migrations import MigrationStore

REQUIRED_MIGRATION_KEYS = ('id', 'instance_uuid', 'instance_name', 'source_compute', 'dest_compute',
                           'old_flavor', 'new_flavor', 'old_vm_state', 'claim', 'migration_type')


def validate_migration(migration):
    """The ``migration`` option: the dict a ``start`` step returned."""
    if not isinstance(migration, dict):
        raise InvalidInput('migration must be the dict returned by step=start')
    missing = [key for key in REQUIRED_MIGRATION_KEYS if migration.get(key) in (None, '')]
    if missing:
        raise InvalidInput('migration lacks %s (pass the migration returned by step=start)' % ', '.join(missing))
    validate_uuid(migration['id'])
    validate_uuid(migration['instance_uuid'])
    return dict(migration)


class MigrateModule(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.params = p
        self.this_host, self.paths, self.store, self.host = hypervisor(p)
        self.migrations = MigrationStore(self.paths)
        self.source = MigrationSource(self.host, self.paths, self.store, self.migrations, self.this_host)
        self.dest = MigrationDest(self.host, self.paths, self.store, self.migrations, self.this_host,
                                  fetch=fetch_settings(p))
        self.result = {'changed': False, 'step': p['step'], 'compute_host': self.this_host}

    def run(self):
        step = self.params['step']
        given = validate_migration(self.params['migration']) if self.params.get('migration') else None
        with self.host:
            if step == 'prep':
                if given is None:
                    raise InvalidInput('step=prep needs migration (the result of step=start)')
                return self._prep(given)
            record = self._record(given)
            if step == 'start':
                return self._start(record)
            uuid = record.uuid if record is not None else given['instance_uuid']
            name = record.name if record is not None else given['instance_name']
            handlers = {'migrate': self._migrate, 'finish': self._finish_step,
                        'confirm': self._confirm, 'revert': self._revert}
            with self.store.lock(uuid, name):
                record = self.store.load(uuid)
                migration = self._migration(record, given)
                if self.module.check_mode:
                    self.result.update(changed=migration['status'] not in ms.DONE, migration=migration)
                else:
                    handlers[step](record, migration)
            return self._finish(self.store.load(uuid))

    # -- lookups ---------------------------------------------------------------------
    def _record(self, given):
        name, uuid = self.params.get('name'), self.params.get('uuid')
        if given is not None and not (name or uuid):
            uuid = given['instance_uuid']
        try:
            return find_instance(self.store, name, uuid, self.paths)
        except InstanceNotFound:
            if self.params['step'] == 'revert' and given is not None:
                return None            # the copy never reached this host
            raise

    def _migration(self, record, given):
        label = record.label if record is not None else given['instance_name']
        wanted = given['id'] if given else (record.migration or {}).get('id')
        if not wanted:
            raise MigrationError('instance has no migration; pass migration (the result of step=start)',
                                 instance=label, step=self.params['step'])
        migration = self.migrations.load(wanted)
        if migration is None:
            raise MigrationError('no migration %s on this host (%s)' % (wanted, self.this_host),
                                 instance=label, step=self.params['step'])
        return migration

    # -- steps -------------------------------------------------------------------------
    def _start(self, record):
        p = self.params
        if not p.get('dest_host'):
            raise InvalidInput('step=start needs dest_host')
        flavor = validate_flavor(p['flavor']) if p.get('flavor') else None
        dest = {'instances_path': p.get('dest_instances_path'),
                'ssh': self._dest_ssh(p['dest_host'])}
        with self.store.lock(record.uuid, record.name):
            record = self.store.load(record.uuid)
            changed, migration, plan = self.source.start(record, p['dest_host'], flavor, dest,
                                                         check_mode=self.module.check_mode)
        self.result.update(changed=changed, migration=migration, plan=plan)
        return self._finish(self.store.load(record.uuid) if not self.module.check_mode else record)

    def _dest_ssh(self, dest_host):
        """Where the disks go, checked before anything is written: a host,
        user or port that ssh could take for an option is refused."""
        ssh = dict(self.params.get('dest_ssh') or {})
        if ssh.get('host') is not None:
            host = validate_host(ssh['host'], 'dest_ssh.host')
        elif dest_host == self.this_host:
            host = dest_host        # a same-host resize: ssh is never used, any compute_host name will do
        else:
            host = validate_host(dest_host, 'dest_host')
        user = ssh.get('user')
        if user is not None:
            validate_ssh_user(user, 'dest_ssh.user')
        return {'host': host, 'user': user, 'port': validate_port(ssh.get('port'), 'dest_ssh.port'),
                'identity_file': ssh.get('identity_file'), 'python': ssh.get('python') or 'python3'}

    def _prep(self, migration):
        if self.module.check_mode:
            self.result.update(changed=self.migrations.load(migration['id']) is None, migration=migration)
            return self.result
        changed, free = self.dest.prep(migration)
        self.result.update(changed=changed, migration=self.migrations.load(migration['id']), free=free)
        return self.result

    def _migrate(self, record, migration):
        outcome = self.source.migrate(record, migration, shutdown_timeout=self.params['shutdown_timeout'])
        self.result.update(outcome, changed=True, migration=self.migrations.load(migration['id']))

    def _finish(self, record):
        if record is not None:
            self.result['instance'] = record_view(record, self.paths)
        return self.result

    def _finish_step(self, record, migration):
        changed = self.dest.finish(record, migration, wait_timeout=self.params['wait_timeout'])
        self.result.update(changed=changed, migration=self.migrations.load(migration['id']))

    def _confirm(self, record, migration):
        changed = False
        if migration['dest_compute'] == self.this_host:
            changed = self.dest.confirm(record, migration)
            migration = self.migrations.load(migration['id'])
        if migration['source_compute'] == self.this_host:
            reported = (self.params.get('migration') or {}).get('status')
            changed = self.source.confirm(record, migration, reported_status=reported) or changed
        self.result.update(changed=changed, migration=self.migrations.load(migration['id']))

    def _revert(self, record, migration):
        changed = False
        if migration['dest_compute'] == self.this_host:
            changed = self.dest.revert(record, migration)
            migration = self.migrations.load(migration['id'])
        if migration['source_compute'] == self.this_host:
            if record is None:
                raise MigrationError('no record of instance %s on the source host' % migration['instance_uuid'],
                                     step='revert')
            changed = self.source.revert(self.store.load(record.uuid), migration,
                                         wait_timeout=self.params['wait_timeout']) or changed
        self.result.update(changed=changed, migration=self.migrations.load(migration['id']))
