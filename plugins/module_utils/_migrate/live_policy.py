# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules of live migration, pure (no libvirt, no Ansible): who may move
live (Nova's live_migrate API checks: active, running, not locked, no task,
no flavor change), what the move copies (memory always; the disks unless
the storage is shared: block migration), the claim on the destination,
the libvirt flags it needs, the statuses each step accepts, and Nova's
completion policy (``live_migration_completion_timeout`` per GiB of
memory and copied disks, each at least 2, then abort or force completion
with post-copy).
"""

from __future__ import annotations

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    quote = urlsplit = None

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InvalidInput,
    MigrationError,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.flavor import flavor_values
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import validate_address
from ansible_collections.novalite.compute.plugins.module_utils._common.units import GiB, MiB
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import check_can_move

LIVE = 'live-migration'
BLOCK, SHARED = 'block', 'shared'
ABORT, FORCE_COMPLETE = 'abort', 'force_complete'
TIMEOUT_ACTIONS = (ABORT, FORCE_COMPLETE)

# Nova's defaults (nova.conf [libvirt]).
DEFAULT_OPTIONS = {
    'completion_timeout': 800,      # seconds per GiB to move; 0: no limit
    'timeout_action': ABORT,
    'permit_post_copy': False,
    'permit_auto_converge': False,
    'permit_unsafe': False,         # VIR_MIGRATE_UNSAFE: a shared filesystem libvirt does not recognise
    'bandwidth_mib': 0,             # MiB/s; 0: unlimited
    'migration_address': None,      # the destination's address for the migration stream (and NBD)
    'dest_uri': None,               # the destination's libvirt URI as the source's libvirtd reaches it
    'poll_interval': 0.5,
}

STEP_STATUSES = {
    'prep': (ms.PRE_MIGRATING,),
    'migrate': (ms.PRE_MIGRATING,),
    'finish': (ms.POST_MIGRATING, ms.COMPLETED),
    # a rollback is allowed while the guest can still be on the source
    'revert': (ms.PRE_MIGRATING, ms.MIGRATING, ms.ERROR, ms.CANCELLED),
    'abort': (ms.MIGRATING,),
}


def is_live(migration):
    return (migration or {}).get('migration_type') == LIVE


def live_options(given):
    """The live-migration options with Nova's defaults; InvalidInput on a bad one."""
    options = dict(DEFAULT_OPTIONS)
    for key, value in (given or {}).items():
        if key not in DEFAULT_OPTIONS:
            raise InvalidInput('live_options has no option %s (known: %s)'
                               % (key, ', '.join(sorted(DEFAULT_OPTIONS))))
        if value is not None:
            options[key] = value
    if options['timeout_action'] not in TIMEOUT_ACTIONS:
        raise InvalidInput('live_options.timeout_action must be one of %s' % ', '.join(TIMEOUT_ACTIONS))
    for key in ('completion_timeout', 'bandwidth_mib'):
        if not isinstance(options[key], int) or isinstance(options[key], bool) or options[key] < 0:
            raise InvalidInput('live_options.%s must be a whole number >= 0' % key)
    if not isinstance(options['poll_interval'], (int, float)) or not 0.05 <= options['poll_interval'] <= 10:
        raise InvalidInput('live_options.poll_interval must be between 0.05 and 10 seconds')
    for key in ('permit_post_copy', 'permit_auto_converge', 'permit_unsafe'):
        if not isinstance(options[key], bool):
            raise InvalidInput('live_options.%s must be true or false' % key)
    if options['migration_address'] is not None:
        # it ends up in the tcp:// URI libvirt hands to QEMU: an address and nothing else
        validate_address(options['migration_address'], 'live_options.migration_address')
    return options


def peer_uri(ssh, dest_libvirt_uri):
    """The URI the source's libvirtd opens to reach the destination's
    daemon, over the same SSH as the cold flow: ``qemu:///session`` on
    ``user@host:port`` with key K -> ``qemu+ssh://user@host:port/session?keyfile=K``."""
    parsed = urlsplit(dest_libvirt_uri)
    driver = parsed.scheme.split('+')[0] or 'qemu'
    host = '[%s]' % ssh['host'] if ':' in ssh['host'] else ssh['host']
    netloc = '%s%s%s' % (ssh['user'] + '@' if ssh.get('user') else '', host,
                         ':%s' % ssh['port'] if ssh.get('port') else '')
    query = 'keyfile=' + quote(ssh['identity_file'], safe='/') if ssh.get('identity_file') else ''
    return '%s+ssh://%s%s%s' % (driver, netloc, parsed.path or '/system', '?' + query if query else '')


def check_can_live_migrate(record, this_host, power_state_label, new_flavor=None):
    """Nova's live_migrate API checks, before anything is written."""
    check_can_move(record, this_host)
    if record.vm_state != states.ACTIVE or power_state_label != PowerState.RUNNING.label:
        raise InstanceInvalidState("cannot live-migrate while in vm_state %s with the guest %s "
                                   "(a live migration moves a running guest; use a cold migration)"
                                   % (record.vm_state, power_state_label),
                                   instance=record.label, step='check state')
    if new_flavor and flavor_values(new_flavor) != flavor_values(record.flavor):
        raise InvalidInput('a live migration keeps the flavor; resize with a cold migration',
                           instance=record.label, step='check flavor')


def plan_live_move(record, this_host, dest_host, disks):
    """What the move is (before the destination says whether the storage
    is shared). ``disks``: [{name, format, virtual_size, allocated_bytes,
    readonly}] as the source sees them."""
    if dest_host == this_host:
        raise InvalidInput('destination %s is the host the instance is on: a live migration needs another '
                           'host' % dest_host, instance=record.label, step='check destination')
    flavor = flavor_values(record.flavor)
    return {'migration_type': LIVE, 'same_host': False, 'source_compute': this_host, 'dest_compute': dest_host,
            'old_flavor': flavor, 'new_flavor': dict(flavor), 'old_vm_state': record.vm_state,
            'claim': live_claim(flavor, disks)}


def copied_disks(disks):
    """The disks a block migration copies: every writable one (the config
    drive is read-only and sent as a file beforehand)."""
    return [d for d in disks if not d.get('readonly')]


def live_claim(flavor, disks):
    return {'memory_mb': flavor['memory_mb'],
            'disk_bytes': sum(d['allocated_bytes'] for d in copied_disks(disks))}


def bytes_to_move(memory_mb, disks, storage):
    """Memory, plus the written part of the copied disks for a block migration."""
    memory = memory_mb * MiB
    disk = sum(d['allocated_bytes'] for d in copied_disks(disks)) if storage != SHARED else 0
    return {'memory_bytes': memory, 'disk_bytes': disk, 'total_bytes': memory + disk}


def live_plan(migration, storage=None):
    """What the move will do, for the operator (check mode shows this)."""
    storage = storage or ({True: SHARED, False: BLOCK}.get(migration.get('shared_storage')))
    moved = bytes_to_move(migration['new_flavor']['memory_mb'], migration['disks'], storage)
    return {'source': migration['source_compute'], 'destination': migration['dest_compute'],
            'migration_type': LIVE, 'mode': 'live, memory only' if storage == SHARED
            else 'live, block migration (memory and disks over NBD)' if storage == BLOCK
            else 'live; block migration unless the destination shares instances_path (decided at prep)',
            'storage': storage or 'unknown until prep',
            'disks': [dict(d) for d in migration['disks']], 'bytes_to_copy': moved['total_bytes'],
            'memory_bytes': moved['memory_bytes'], 'disk_bytes': moved['disk_bytes'],
            'options': dict((k, v) for k, v in migration['live'].items() if k != 'dest_uri'),
            'completion_timeout_s': completion_deadline(
                migration['live'], data_gib(migration['new_flavor']['memory_mb'], migration['disks'], storage))}


def migration_flags(block, options):
    """Names of the ``VIR_MIGRATE_*`` flags (without the prefix) for the move."""
    flags = ['LIVE', 'PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE']
    if block:
        flags.append('NON_SHARED_INC')
    if options.get('permit_auto_converge'):
        flags.append('AUTO_CONVERGE')
    if options.get('permit_post_copy'):
        flags.append('POSTCOPY')
    if options.get('permit_unsafe') and not block:
        flags.append('UNSAFE')
    return flags


def data_gib(memory_mb, disks, storage):
    """Nova's _live_migration_data_gb: memory in GiB, and each copied disk's
    size in GiB for a block migration, each counted as at least 2."""
    gib = max(float(memory_mb) * MiB / GiB, 2.0)
    if storage != SHARED:
        gib += sum(max(float(d['virtual_size']) / GiB, 2.0) for d in copied_disks(disks))
    return gib


def completion_deadline(options, gib):
    """Seconds the move may take before the timeout action
    (completion_timeout per GiB of ``data_gib``); None: no limit."""
    per_gib = options.get('completion_timeout') or 0
    if not per_gib:
        return None
    return per_gib * gib


def on_progress(elapsed, deadline, options, post_copy_started):
    """What the monitor does now: None (wait), 'abort' or 'post-copy'
    (Nova's live_migration_timeout_action; force_complete without post-copy
    permitted pauses nothing here, it aborts: a paused guest is downtime the
    operator did not ask for)."""
    if deadline is None or elapsed < deadline or post_copy_started:
        return None
    if options.get('timeout_action') == FORCE_COMPLETE and options.get('permit_post_copy'):
        return 'post-copy'
    return ABORT


def check_live_status(migration, step, instance=None):
    allowed = STEP_STATUSES[step]
    if migration['status'] not in allowed:
        raise MigrationError("live migration %s is %s; '%s' needs %s"
                             % (migration['id'], migration['status'], step, ' or '.join(allowed)),
                             instance=instance, step=step)


def decided_storage(migration, prepared, probe_host, instance=None):
    """Whether the storage is shared, as the destination's prep decided it.
    ``prepared``: the migration step=prep returned (None when not passed);
    ``probe_host``: the host the source's probe names now (prep rewrites it
    only when both hosts see one directory). A block migration onto a
    directory the source also uses would copy each disk onto itself: both
    must agree before anything moves."""
    if prepared is None or prepared.get('id') != migration['id'] \
            or not isinstance(prepared.get('shared_storage'), bool):
        raise MigrationError("step=migrate of a live migration needs migration: the one step=prep returned on %s "
                             '(prep decides whether the storage is shared and prepares the disks)'
                             % migration['dest_compute'], instance=instance, step='migrating')
    if probe_host is None:
        raise MigrationError('the probe of migration %s is gone from the source; start the move again'
                             % migration['id'], instance=instance, step='migrating')
    seen = probe_host == migration['dest_compute']
    if seen != prepared['shared_storage']:
        raise MigrationError('prep on %s decided the storage is %s, but the probe the source reads says %s; '
                             'roll the move back (step=revert) and start again'
                             % (migration['dest_compute'], SHARED if prepared['shared_storage'] else BLOCK,
                                SHARED if seen else BLOCK), instance=instance, step='migrating')
    return seen
