# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_migrate's module object: the one object that talks to AnsibleModule.

Each run is one step on one host, as in Nova each compute step runs on one
compute node; the resize role chains them with delegate_to:

    start (source) -> prep (dest) -> migrate (source) -> finish (dest)
    -> confirm (dest, then source)  or  revert (dest, then source)

A host that is both source and destination (same-host resize) does both
halves of confirm and revert in one run. What each step does and what its
check mode reports is the table in ``_migrate/steps.py``; the look, lock,
look again, act sequence is ``_module.runner.converge``.
"""

from __future__ import annotations

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
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_dest import LiveDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_policy import is_live, live_options, peer_uri
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_source import LiveSource
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource
from ansible_collections.novalite.compute.plugins.module_utils._migrate.steps import INSTANCE, MIGRATION, STEPS, UNLOCKED_MOVE
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.lookup import find_instance
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view

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


class MigrateModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.params = p
        super().__init__(Hypervisor.from_params(p))
        self.source = MigrationSource(self.hv)
        self.dest = MigrationDest(self.hv)
        self.live_source = LiveSource(self.hv)
        self.live_dest = LiveDest(self.hv)
        self.live_options = None      # step=start with live: the validated live_options
        self.result = {'changed': False, 'step': p['step'], 'compute_host': self.this_host}
        self.start_request = None     # step=start: (dest_host, new flavor, dest), checked before the lock
        self._locked = None           # (uuid, name) of the instance lock taken
        self._start_record = None     # step=start: the record read under the lock
        self.given = None             # the migration option, validated

    def run(self):
        """The sequence of ``_module.runner``, for the step asked (the table
        in ``_migrate/steps.py`` says what it looks at, what its check mode
        reports and what it does)."""
        name = self.params['step']
        step = STEPS[name]
        given = validate_migration(self.params['migration']) if self.params.get('migration') else None
        self.given = given
        check_mode = self.module.check_mode
        with self.host:
            if step.looks_at == MIGRATION:
                if given is None:
                    raise InvalidInput('step=%s needs migration (the result of step=start)' % name)
                converge(check_mode, assess=lambda _previous: (None, given),
                         act=lambda look: step.run(self, *look), report=lambda look: step.check(self, *look))
                return self.result
            if step.looks_at == UNLOCKED_MOVE:
                record = self._record(given)
                look = (record, self._migration(record, given))
                converge(check_mode, assess=lambda _previous: look,
                         act=lambda look: step.run(self, *look), report=lambda look: step.check(self, *look))
                return self._with_instance_view(self.store.load(record.uuid))
            assess = self._look_at_instance if step.looks_at == INSTANCE else self._look_at_move
            converge(check_mode, assess=lambda previous: assess(previous, given),
                     act=lambda look: step.run(self, *look), report=lambda look: step.check(self, *look),
                     locks=(lambda look: self._instance_lock(look, given),), check_locked=True)
            uuid = self._locked[0]
            if step.looks_at == INSTANCE and check_mode:
                return self._with_instance_view(self._start_record)
            return self._with_instance_view(self.store.load(uuid))

    def _instance_lock(self, look, given):
        """The instance lock, on the instance the first look found (or, for
        a revert on a host its copy never reached, the migration's)."""
        record = look[0]
        self._locked = (record.uuid, record.name) if record is not None \
            else (given['instance_uuid'], given['instance_name'])
        return self.store.lock(*self._locked)

    def _look_at_instance(self, previous, given):
        """start: the record; before the lock also the destination (checked
        before anything is written)."""
        if previous is None:
            record = self._record(given)
            self.start_request = self._start_request()
            return record, None
        self._start_record = self.store.load(self._locked[0])
        return self._start_record, None

    def _look_at_move(self, previous, given):
        """migrate, finish, confirm, revert: the record (None on a host the
        copy never reached, for revert), and under the lock this host's copy
        of the migration."""
        if previous is None:
            return self._record(given), None
        record = self.store.load(self._locked[0])
        return record, self._migration(record, given)

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
        if migration is None and self.params['step'] == 'revert' and is_live(given):
            return dict(given)        # a live migration refused before this host kept a copy
        if migration is None:
            raise MigrationError('no migration %s on this host (%s)' % (wanted, self.this_host),
                                 instance=label, step=self.params['step'])
        return migration

    # -- start's request --------------------------------------------------------------
    def _start_request(self):
        """(dest_host, new flavor, dest) of step=start."""
        p = self.params
        if not p.get('dest_host'):
            raise InvalidInput('step=start needs dest_host')
        flavor = validate_flavor(p['flavor']) if p.get('flavor') else None
        dest = {'instances_path': p.get('dest_instances_path'),
                'ssh': self._dest_ssh(p['dest_host'])}
        if p.get('live'):
            self.live_options = live_options(p.get('live_options'))
            dest['uri'] = p.get('dest_uri') or peer_uri(dest['ssh'], p.get('dest_libvirt_uri') or 'qemu:///system')
        elif p.get('live_options') or p.get('dest_uri'):
            raise InvalidInput('live_options and dest_uri are for a live migration (live: true)')
        return p['dest_host'], flavor, dest

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

    def _with_instance_view(self, record):
        if record is not None:
            self.result['instance'] = record_view(record, self.paths)
        return self.result
