"""Live migration rules as tables (pure: no libvirt): the options and
Nova's defaults, the peer URI over SSH, who may move live, what the move
copies and claims, the flags, the completion deadline and what the monitor
does when it passes, and the statuses each step accepts."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
    InvalidInput,
    MigrationError,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_policy import (
    DEFAULT_OPTIONS,
    bytes_to_move,
    check_can_live_migrate,
    check_live_status,
    completion_deadline,
    data_gib,
    copied_disks,
    decided_storage,
    is_live,
    live_claim,
    live_options,
    live_plan,
    migration_flags,
    on_progress,
    peer_uri,
    plan_live_move,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

MiB, GiB = 1024 ** 2, 1024 ** 3
FLAVOR = {'vcpus': 1, 'memory_mb': 256, 'root_gb': 1, 'ephemeral_gb': 1, 'swap_mb': 0}
# what LiveSource._disks reports for our guests: root, ephemeral, the read-only config drive
DISKS = [
    {'name': 'disk', 'dev': 'vda', 'format': 'qcow2', 'virtual_size': GiB, 'allocated_bytes': 3 * MiB,
     'readonly': False},
    {'name': 'disk.local', 'dev': 'vdb', 'format': 'raw', 'virtual_size': GiB, 'allocated_bytes': 5 * MiB,
     'readonly': False},
    {'name': 'disk.config', 'dev': 'hdd', 'format': 'raw', 'virtual_size': 512 * 1024, 'allocated_bytes': 7 * MiB,
     'readonly': True},
]
WRITTEN = 8 * MiB       # vda + vdb: the config drive is not copied by libvirt


def record(vm_state='active', task_state=None, locked=False, host='a', flavor=None):
    return InstanceRecord({'uuid': 'u-1', 'name': 'web1', 'vm_state': vm_state, 'task_state': task_state,
                           'locked': locked, 'host': host, 'flavor': dict(flavor or FLAVOR)})


# -- live_options ---------------------------------------------------------------------------
def test_options_default_to_novas():
    assert live_options(None) == {'completion_timeout': 800, 'timeout_action': 'abort', 'permit_post_copy': False,
                                  'permit_auto_converge': False, 'permit_unsafe': False, 'bandwidth_mib': 0,
                                  'migration_address': None, 'dest_uri': None, 'poll_interval': 0.5}
    assert live_options({}) == live_options(None)


def test_none_keeps_the_default():
    """Ansible hands every suboption, unset ones as None."""
    given = dict((key, None) for key in DEFAULT_OPTIONS)
    assert live_options(given) == live_options(None)


@pytest.mark.parametrize('given', [
    {'completion_timeout': 0},
    {'completion_timeout': 30, 'timeout_action': 'force_complete', 'permit_post_copy': True},
    {'timeout_action': 'force_complete'},            # without post-copy: aborts (on_progress)
    {'permit_auto_converge': True, 'bandwidth_mib': 100},
    {'migration_address': '192.0.2.7', 'dest_uri': 'qemu+ssh://hv2/system'},
    {'poll_interval': 0.05}, {'poll_interval': 10}, {'poll_interval': 2}, {'poll_interval': 1.5},
    {'migration_address': 'hv2.example.org'}, {'migration_address': '2001:db8::7'},
    {'migration_address': 'fe80::1%eth0'}, {'migration_address': 'hv2'},
])
def test_options_accepted(given):
    options = live_options(given)
    for key, value in given.items():
        assert options[key] == value
    for key in set(DEFAULT_OPTIONS) - set(given):
        assert options[key] == DEFAULT_OPTIONS[key]


def test_options_do_not_change_the_defaults_or_the_input():
    given = {'completion_timeout': 5, 'permit_post_copy': True}
    live_options(given)
    assert given == {'completion_timeout': 5, 'permit_post_copy': True}
    assert live_options(None)['completion_timeout'] == 800 and live_options(None)['permit_post_copy'] is False


@pytest.mark.parametrize('given, text', [
    ({'completion_timout': 5}, 'live_options has no option completion_timout \\(known: bandwidth_mib, '
                               'completion_timeout, dest_uri'),
    ({'timeout_action': 'pause'}, 'timeout_action must be one of abort, force_complete'),
    ({'timeout_action': 'ABORT'}, 'timeout_action must be one of'),
    ({'completion_timeout': -1}, 'completion_timeout must be a whole number >= 0'),
    ({'completion_timeout': '800'}, 'completion_timeout must be a whole number'),
    ({'completion_timeout': 1.5}, 'completion_timeout must be a whole number'),
    ({'completion_timeout': True}, 'completion_timeout must be a whole number'),
    ({'bandwidth_mib': -5}, 'bandwidth_mib must be a whole number >= 0'),
    ({'bandwidth_mib': False}, 'bandwidth_mib must be a whole number'),
    ({'poll_interval': 0.01}, 'poll_interval must be between 0.05 and 10 seconds'),
    ({'poll_interval': 0}, 'poll_interval must be between'),
    ({'poll_interval': 10.5}, 'poll_interval must be between'),
    ({'poll_interval': '1'}, 'poll_interval must be between'),
    ({'permit_post_copy': 'yes'}, 'permit_post_copy must be true or false'),
    ({'permit_auto_converge': 1}, 'permit_auto_converge must be true or false'),
    # the address ends up in the tcp:// URI QEMU listens and connects on
    ({'migration_address': '10.0.0.1:49152'}, 'migration_address .* is not a valid IPv6 address'),
    ({'migration_address': '[2001:db8::7]'}, 'without brackets'),
    ({'migration_address': 'root@hv2'}, 'an address only \\(no user@\\)'),
    ({'migration_address': 'hv2/x'}, 'is not a host name, an IPv4 or an IPv6 address'),
    ({'migration_address': 'tcp://hv2'}, 'is not a valid IPv6 address'),
    ({'migration_address': '-oProxyCommand=x'}, "must not start with '-'"),
    ({'migration_address': 'hv2 hv3'}, 'must not contain whitespace'),
    ({'migration_address': '999.1.1.1'}, 'is not a valid IPv4 address'),
    ({'migration_address': ''}, 'must not be empty'),
    ({'migration_address': 7}, 'must not be empty'),
])
def test_options_refused(given, text):
    with pytest.raises(InvalidInput, match=text):
        live_options(given)


# -- peer_uri -------------------------------------------------------------------------------
@pytest.mark.parametrize('ssh, dest_libvirt_uri, uri', [
    ({'host': 'hv2'}, 'qemu:///system', 'qemu+ssh://hv2/system'),
    ({'host': 'hv2', 'user': 'novalite-b', 'port': 2222, 'identity_file': '/root/.ssh/novalite_migration_ed25519'},
     'qemu:///session', 'qemu+ssh://novalite-b@hv2:2222/session?keyfile=/root/.ssh/novalite_migration_ed25519'),
    ({'host': 'hv2', 'user': None, 'port': None, 'identity_file': None}, 'qemu:///system', 'qemu+ssh://hv2/system'),
    ({'host': 'hv2', 'port': '22'}, 'qemu:///system', 'qemu+ssh://hv2:22/system'),
    # the transport and the host of the given URI are replaced by SSH's
    ({'host': 'hv2'}, 'qemu+tcp://elsewhere/system', 'qemu+ssh://hv2/system'),
    ({'host': 'hv2'}, 'qemu+ssh://root@elsewhere:9/session', 'qemu+ssh://hv2/session'),
    ({'host': 'hv2'}, 'qemu://', 'qemu+ssh://hv2/system'),
    ({'host': 'hv2'}, 'test:///default', 'test+ssh://hv2/default'),
    # IPv6: bracketed, also before a port
    ({'host': '2001:db8::2'}, 'qemu:///system', 'qemu+ssh://[2001:db8::2]/system'),
    ({'host': 'fe80::1', 'user': 'n', 'port': 22}, 'qemu:///system', 'qemu+ssh://n@[fe80::1]:22/system'),
    # the key file is percent-encoded in the query (libvirt decodes it), slashes kept
    ({'host': 'hv2', 'identity_file': '/keys/my key&x'}, 'qemu:///system',
     'qemu+ssh://hv2/system?keyfile=/keys/my%20key%26x'),
])
def test_peer_uri_table(ssh, dest_libvirt_uri, uri):
    assert peer_uri(ssh, dest_libvirt_uri) == uri


# -- check_can_live_migrate ---------------------------------------------------------------------
@pytest.mark.parametrize('flavor', [None, dict(FLAVOR), dict(FLAVOR, name='m1.other')])
def test_an_active_running_guest_may_move_live(flavor):
    check_can_live_migrate(record(), 'a', 'running', flavor)


@pytest.mark.parametrize('rec, power, flavor, error, text, step', [
    (record(locked=True), 'running', None, InstanceLocked, 'locked', 'check lock'),
    (record(host='c'), 'running', None, InstanceInvalidState, 'owned by host c, not by a', 'check host'),
    (record('stopped'), 'shutdown', None, InstanceInvalidState,
     'cannot live-migrate while in vm_state stopped with the guest shutdown', 'check state'),
    # the record says active but the guest is not running: a live migration moves a running guest
    (record(), 'paused', None, InstanceInvalidState, 'vm_state active with the guest paused.*use a cold migration',
     'check state'),
    (record(), 'shutdown', None, InstanceInvalidState, 'with the guest shutdown', 'check state'),
    (record(), 'crashed', None, InstanceInvalidState, 'with the guest crashed', 'check state'),
    (record('building'), 'running', None, InstanceInvalidState, "cannot 'migrate' while in vm_state building",
     'check state'),
    (record('error'), 'running', None, InstanceInvalidState, 'vm_state error', 'check state'),
    (record(task_state='migrating'), 'running', None, InstanceInvalidState, 'task_state migrating', 'check state'),
    (record(task_state='rebooting'), 'running', None, InstanceInvalidState, 'task_state rebooting', 'check state'),
    (record(), 'running', dict(FLAVOR, memory_mb=512), InvalidInput, 'keeps the flavor', 'check flavor'),
    (record(), 'running', dict(FLAVOR, vcpus=2), InvalidInput, 'keeps the flavor', 'check flavor'),
    (record(), 'running', dict(FLAVOR, swap_mb=16), InvalidInput, 'keeps the flavor', 'check flavor'),
])
def test_live_refusals(rec, power, flavor, error, text, step):
    with pytest.raises(error, match=text) as caught:
        check_can_live_migrate(rec, 'a', power, flavor)
    assert caught.value.step == step and caught.value.instance == 'web1 (u-1)'


# -- plan_live_move, copied_disks, live_claim -----------------------------------------------------
def test_plan_live_move():
    plan = plan_live_move(record(), 'a', 'b', DISKS)
    assert plan == {'migration_type': 'live-migration', 'same_host': False, 'source_compute': 'a',
                    'dest_compute': 'b', 'old_flavor': FLAVOR, 'new_flavor': FLAVOR, 'old_vm_state': 'active',
                    'claim': {'memory_mb': 256, 'disk_bytes': WRITTEN}}
    assert plan['new_flavor'] is not plan['old_flavor']     # one may be edited without the other


def test_plan_fills_the_flavor_fields_a_record_lacks():
    plan = plan_live_move(record(flavor={'vcpus': 2, 'memory_mb': 64}), 'a', 'b', [])
    assert plan['old_flavor'] == {'vcpus': 2, 'memory_mb': 64, 'root_gb': 0, 'ephemeral_gb': 0, 'swap_mb': 0}
    assert plan['claim'] == {'memory_mb': 64, 'disk_bytes': 0}


def test_plan_refuses_the_host_the_instance_is_on():
    with pytest.raises(InvalidInput, match='destination a is the host the instance is on') as caught:
        plan_live_move(record(), 'a', 'a', DISKS)
    assert caught.value.step == 'check destination'


@pytest.mark.parametrize('disks, copied', [
    (DISKS, ['vda', 'vdb']),
    ([], []),
    ([{'dev': 'vda', 'allocated_bytes': 1}], ['vda']),                      # no readonly key: writable
    ([{'dev': 'vda', 'allocated_bytes': 1, 'readonly': None}], ['vda']),
    ([{'dev': 'hdd', 'allocated_bytes': 1, 'readonly': True}], []),
])
def test_copied_disks(disks, copied):
    assert [d['dev'] for d in copied_disks(disks)] == copied


def test_claim_is_the_memory_and_the_written_bytes_of_the_copied_disks():
    assert live_claim(FLAVOR, DISKS) == {'memory_mb': 256, 'disk_bytes': WRITTEN}
    assert live_claim(dict(FLAVOR, memory_mb=1024), DISKS[2:]) == {'memory_mb': 1024, 'disk_bytes': 0}


# -- bytes_to_move, live_plan ---------------------------------------------------------------------
@pytest.mark.parametrize('storage, disk', [('block', WRITTEN), ('shared', 0), (None, WRITTEN)])
def test_bytes_to_move(storage, disk):
    """Unknown storage counts the disks: the larger estimate until prep knows."""
    assert bytes_to_move(256, DISKS, storage) == {'memory_bytes': 256 * MiB, 'disk_bytes': disk,
                                                  'total_bytes': 256 * MiB + disk}


def migration(shared_storage=None, **live):
    return {'source_compute': 'a', 'dest_compute': 'b', 'new_flavor': dict(FLAVOR), 'disks': [dict(d) for d in DISKS],
            'shared_storage': shared_storage,
            'live': dict(live_options(live), dest_uri='qemu+ssh://b/system?keyfile=/secret')}


@pytest.mark.parametrize('shared, storage, mode, disk', [
    (None, 'unknown until prep', 'live; block migration unless the destination shares instances_path '
                                 '(decided at prep)', WRITTEN),
    (False, 'block', 'live, block migration (memory and disks over NBD)', WRITTEN),
    (True, 'shared', 'live, memory only', 0),
])
def test_live_plan_by_what_prep_found(shared, storage, mode, disk):
    plan = live_plan(migration(shared))
    assert (plan['storage'], plan['mode']) == (storage, mode)
    assert (plan['memory_bytes'], plan['disk_bytes'], plan['bytes_to_copy']) == (256 * MiB, disk, 256 * MiB + disk)
    assert (plan['source'], plan['destination'], plan['migration_type']) == ('a', 'b', 'live-migration')


def test_live_plan_storage_argument_wins_over_the_migration():
    plan = live_plan(migration(False), storage='shared')
    assert plan['storage'] == 'shared' and plan['disk_bytes'] == 0


def test_live_plan_options_and_deadline():
    moved = migration(False, completion_timeout=10)
    plan = live_plan(moved)
    assert 'dest_uri' not in plan['options']            # it may carry a key file path: not shown
    expected = live_options({'completion_timeout': 10})
    del expected['dest_uri']
    assert plan['options'] == expected
    # unknown storage counts as a block migration: 2 GiB of memory (the minimum) + two copied disks of 2 GiB each
    assert plan['completion_timeout_s'] == 60
    assert plan['disks'] == DISKS and plan['disks'][0] is not moved['disks'][0]
    assert live_plan(migration(False, completion_timeout=0))['completion_timeout_s'] is None


# -- migration_flags ------------------------------------------------------------------------------
BASE = ['LIVE', 'PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE']


@pytest.mark.parametrize('block, given, extra', [
    (False, {}, []),
    (True, {}, ['NON_SHARED_INC']),
    (False, {'permit_auto_converge': True}, ['AUTO_CONVERGE']),
    (False, {'permit_post_copy': True}, ['POSTCOPY']),
    (True, {'permit_auto_converge': True, 'permit_post_copy': True}, ['NON_SHARED_INC', 'AUTO_CONVERGE', 'POSTCOPY']),
    (True, {'timeout_action': 'force_complete'}, ['NON_SHARED_INC']),
    (False, {'permit_unsafe': True}, ['UNSAFE']),                 # shared storage libvirt does not recognise
    (True, {'permit_unsafe': True}, ['NON_SHARED_INC']),          # a block migration copies: nothing unsafe
])
def test_migration_flags(block, given, extra):
    flags = migration_flags(block, live_options(given))
    assert flags == BASE + extra
    assert 'NON_SHARED_DISK' not in flags and 'TUNNELLED' not in flags


# -- completion_deadline, on_progress --------------------------------------------------------------
@pytest.mark.parametrize('options, gib, deadline', [
    ({'completion_timeout': 800}, 4.0, 3200),
    ({'completion_timeout': 800}, 2.5, 2000),
    ({'completion_timeout': 10}, 4.5, 45),
    ({'completion_timeout': 0}, 4.0, None),
    ({'completion_timeout': None}, 4.0, None),
    ({}, 4.0, None),
])
def test_completion_deadline(options, gib, deadline):
    assert completion_deadline(options, gib) == deadline


@pytest.mark.parametrize('memory_mb, sizes, storage, gib', [
    (256, [GiB], 'block', 4.0),                 # memory and each disk count as at least 2 GiB (Nova)
    (256, [GiB], 'shared', 2.0),                # shared storage: memory only
    (4096, [GiB], 'block', 6.0),
    (4096, [10 * GiB, GiB], 'block', 16.0),
    (3072, [3 * GiB], 'block', 6.0),
    (3072, [], 'block', 3.0),
])
def test_data_gib_counts_like_nova(memory_mb, sizes, storage, gib):
    disks = [{'name': 'd%d' % i, 'virtual_size': size, 'allocated_bytes': 0, 'readonly': False}
             for i, size in enumerate(sizes)]
    disks.append({'name': 'disk.config', 'virtual_size': 100 * GiB, 'allocated_bytes': 0, 'readonly': True})
    assert data_gib(memory_mb, disks, storage) == gib


ABORTING = {'timeout_action': 'abort', 'permit_post_copy': True}
FORCING = {'timeout_action': 'force_complete', 'permit_post_copy': True}
FORCING_NO_POSTCOPY = {'timeout_action': 'force_complete', 'permit_post_copy': False}


@pytest.mark.parametrize('elapsed, deadline, options, started, action', [
    (10, None, ABORTING, False, None),              # no limit
    (99.9, 100, ABORTING, False, None),
    (100, 100, ABORTING, False, 'abort'),           # the deadline itself is too late
    (500, 100, ABORTING, False, 'abort'),
    (100, 100, FORCING, False, 'post-copy'),
    (100, 100, FORCING, True, None),                # post-copy runs: nothing more to force
    (100, 100, ABORTING, True, None),               # a post-copy guest must not be aborted
    (100, 100, FORCING_NO_POSTCOPY, False, 'abort'),  # no pausing the guest: abort
    (100, 100, {'timeout_action': 'force_complete'}, False, 'abort'),
    (100, 100, {}, False, 'abort'),
])
def test_on_progress(elapsed, deadline, options, started, action):
    assert on_progress(elapsed, deadline, options, started) == action


# -- statuses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize('step, status, allowed', [
    ('prep', 'pre-migrating', True), ('prep', 'migrating', False),
    ('migrate', 'pre-migrating', True), ('migrate', 'migrating', False), ('migrate', 'completed', False),
    ('finish', 'post-migrating', True), ('finish', 'completed', True), ('finish', 'migrating', False),
    ('finish', 'finished', False),                  # a cold move's status, not a live one's
    ('revert', 'pre-migrating', True), ('revert', 'migrating', True), ('revert', 'error', True),
    ('revert', 'cancelled', True),
    ('revert', 'post-migrating', False),            # the guest already runs on the destination
    ('revert', 'completed', False),
    ('abort', 'migrating', True), ('abort', 'pre-migrating', False), ('abort', 'post-migrating', False),
])
def test_live_status_table(step, status, allowed):
    moving = {'id': 'm-1', 'status': status}
    if allowed:
        check_live_status(moving, step, instance='web1 (u-1)')
    else:
        with pytest.raises(MigrationError, match="live migration m-1 is %s; '%s' needs " % (status, step)) as caught:
            check_live_status(moving, step, instance='web1 (u-1)')
        assert caught.value.step == step and caught.value.instance == 'web1 (u-1)'


def test_status_refusal_names_what_the_step_needs():
    with pytest.raises(MigrationError, match="'finish' needs post-migrating or completed$"):
        check_live_status({'id': 'm-1', 'status': 'error'}, 'finish')


@pytest.mark.parametrize('moving, live', [
    (None, False), ({}, False), ({'migration_type': 'migration'}, False), ({'migration_type': 'resize'}, False),
    ({'migration_type': 'live-migration'}, True), ({'id': 'm-1', 'migration_type': 'live-migration'}, True),
])
def test_is_live(moving, live):
    assert is_live(moving) is live


MOVE = {'id': 'm1', 'dest_compute': 'hv2'}


@pytest.mark.parametrize('prepared, probe_host, shared', [
    ({'id': 'm1', 'shared_storage': False}, 'hv1', False),     # block: the probe still names the source
    ({'id': 'm1', 'shared_storage': True}, 'hv2', True),       # shared: prep rewrote the one probe
], ids=['block', 'shared'])
def test_decided_storage_follows_prep_when_the_probe_agrees(prepared, probe_host, shared):
    assert decided_storage(MOVE, prepared, probe_host) is shared


@pytest.mark.parametrize('prepared, probe_host, text', [
    (None, 'hv1', 'needs migration: the one step=prep returned on hv2'),
    ({'id': 'm2', 'shared_storage': False}, 'hv1', 'needs migration: the one step=prep returned'),
    ({'id': 'm1', 'shared_storage': None}, 'hv1', 'needs migration'),       # start's copy: prep never decided
    ({'id': 'm1'}, 'hv1', 'needs migration'),
    ({'id': 'm1', 'shared_storage': 'no'}, 'hv1', 'needs migration'),
    ({'id': 'm1', 'shared_storage': False}, None, 'the probe of migration m1 is gone'),
    # a block copy onto the directory the source reads would copy each disk onto itself
    ({'id': 'm1', 'shared_storage': False}, 'hv2', 'decided the storage is block, but the probe .* says shared'),
    ({'id': 'm1', 'shared_storage': True}, 'hv1', 'decided the storage is shared, but the probe .* says block'),
], ids=['not-passed', 'other-move', 'undecided', 'no-decision', 'not-a-bool', 'probe-gone', 'block-but-shared',
        'shared-but-block'])
def test_decided_storage_refusals(prepared, probe_host, text):
    with pytest.raises(MigrationError, match=text) as raised:
        decided_storage(MOVE, prepared, probe_host, instance='web1 (u1)')
    assert raised.value.step == 'migrating'
