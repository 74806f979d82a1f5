# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two halves of a live migration on fake hypervisors: LiveSource
(start, the storage decision migrate checks, abort, rollback), LiveDest
(finish, rollback: what it may remove) and LiveMove's failure handling
(``failed``, run by migrate when a phase raises).

Each host is the real Hypervisor context on a tmp instances_path (real
paths, records, migrations, probes) with a fake libvirt: ``LiveHost`` /
``LiveGuest`` add the live-migration calls (job state, abort, block size,
migrate) to the shared FakeHost / FakeGuest. The storage is shared when
both hosts use one instances_path. libvirt's job is ``ScriptedJob``: the
migration call runs on the test's thread, with the monitor's verdict
(timed out, post-copy) set by the test. LiveDest.prep itself is not
tested here (its block half makes the disks with qemu-img); the
destination rollback runs the real prep of a block migration (qemu-img,
as fakes.build does) only to leave on the destination what it leaves."""

from __future__ import annotations

import glob
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
    InvalidInput,
    MigrationError,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.live_xml import xml_for_destination
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_move
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_policy as lp
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_dest import LiveDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_source import LiveSource
from ansible_collections.novalite.compute.plugins.module_utils._migrate.probe import read_probe, write_probe
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '55555555-aaaa-4bbb-8ccc-000000000001'
GiB = 1024 ** 3
DISK_CAPACITY = GiB                  # what libvirt's blockInfo says of the root disk (flavor root_gb 1)
VIR_ERR_INTERNAL_ERROR = 1           # what a broken connection often is
VIR_ERR_OPERATION_ABORTED = 78       # libvirt's error of a job cancelled by abortJob


# -- the fake libvirt ---------------------------------------------------------------------------
class LiveGuest(fakes.FakeGuest):
    """FakeGuest with Guest's live-migration calls. ``job``: a libvirt job
    runs on the domain; ``on_migrate(guest, dest_xml)``: what libvirt's
    peer-to-peer migration does (move the domain, raise...)."""

    job = False
    on_migrate = None

    def job_running(self):
        self._alive('reading the job of domain %s')
        return self.job

    def abort_job(self):
        self._alive('aborting the job of domain %s')
        self.calls.append('abort_job')
        self.job = False

    def migratable_xml(self):
        return self.xml()

    def block_size(self, path):
        self._alive('reading the size of a disk of domain %s')
        return DISK_CAPACITY, os.path.getsize(path)

    def migrate(self, dest_uri, flag_names, dest_xml, migrate_uri=None, disks=None, bandwidth_mib=0):
        self.calls.append('migrate')
        self.migrate_args = {'dest_uri': dest_uri, 'flags': list(flag_names), 'migrate_uri': migrate_uri,
                             'disks': disks}
        self.on_migrate(self, dest_xml)


def as_live(guest):
    guest.__class__ = LiveGuest
    return guest


class LiveHost(fakes.FakeHost):
    """FakeHost whose domains are LiveGuests, and which accepts any guest CPU."""

    def define(self, xml):
        return as_live(super().define(xml))

    def check_guest_cpu(self, cpu_xml, virt_type, arch='x86_64'):
        pass


class ScriptedJob(object):
    """LiveJob's interface: the migration call runs on this thread; the
    monitor's verdict is what ``verdict`` says (timed_out, post_copy)."""

    verdict = {}

    def __init__(self, guest, options, gib, progress):
        self.deadline = lp.completion_deadline(options, gib)
        self.timed_out = self.post_copy = False
        self.last, self.seconds = {}, 0.0

    def run(self, call):
        for field, value in self.verdict.items():
            setattr(self, field, value)
        call()
        return self


@pytest.fixture
def verdict(monkeypatch):
    """The monitor's verdict on the next job (set fields in the returned dict)."""
    given = {}
    monkeypatch.setattr(ScriptedJob, 'verdict', given)
    monkeypatch.setattr(live_move, 'LiveJob', ScriptedJob)
    return given


# -- the hosts ------------------------------------------------------------------------------------
def live_hypervisor(root, this_host):
    return fakes.hypervisor(root, this_host=this_host, host=LiveHost(this_host=this_host))


@pytest.fixture
def hv1(tmp_path, monkeypatch):
    """The source: a running instance built by the real Spawner."""
    fakes.install_clock(monkeypatch)
    hv = live_hypervisor(tmp_path / 'a', 'hv1')
    fakes.build(hv, UUID)
    return hv


@pytest.fixture
def block(tmp_path, hv1):
    """(source, destination) with their own instances_path each."""
    return hv1, live_hypervisor(tmp_path / 'b', 'hv2')


@pytest.fixture
def shared(tmp_path, hv1):
    """(source, destination) on one instances_path."""
    return hv1, live_hypervisor(tmp_path / 'a', 'hv2')


def dest_of(hv):
    return {'ssh': {'host': hv.this_host}, 'instances_path': hv.paths.root, 'uri': 'qemu+ssh://%s/system' % hv.this_host}


def start(hv1, hv2, record=None, check_mode=False):
    """LiveSource.start as instance_migrate's start step runs it."""
    record = record or hv1.store.load(UUID)
    return LiveSource(hv1).start(record, hv2.this_host, dest_of(hv2), lp.live_options(None), check_mode=check_mode)


def started(hv1, hv2):
    return start(hv1, hv2)[1]


def guest(hv):
    return hv.host.domains.get(UUID)


def raw(path):
    with open(path, 'rb') as handle:
        return handle.read()


def probes(hv):
    return glob.glob(os.path.join(hv.paths.root, '.novalite-probe-*'))


def migration_files(hv):
    """The migration records and abort requests under _migrations (not its lock)."""
    if not os.path.isdir(hv.paths.migrations_dir):
        return []
    return sorted(name for name in os.listdir(hv.paths.migrations_dir) if not name.startswith('.'))


def status(hv, migration):
    return hv.migrations.load(migration['id'])['status']


LIBVIRT = 'migrating domain web1 failed: '       # how libvirt_errors words a failed migrateToURI3


def libvirt_error(message, code):
    return fakes.libvirt_failure('migrating domain web1', message, code)


def moves_to(hv2):
    """libvirt's successful peer-to-peer move (PERSIST_DEST, UNDEFINE_SOURCE):
    the guest runs on hv2 from the XML handed over, none is left here."""
    def on_migrate(source_guest, dest_xml):
        hv2.host.define(dest_xml).start_behind_our_back()
        del source_guest.host.domains[source_guest.uuid]
    return on_migrate


def fails_with(message, code):
    def on_migrate(_guest, _xml):
        raise libvirt_error(message, code)
    return on_migrate


def prepared_shared(hv1, hv2):
    """start, then the real prep on a destination sharing instances_path:
    (migration, prepared)."""
    migration = started(hv1, hv2)
    assert LiveDest(hv2).prep(migration)[2] == lp.SHARED
    return hv1.migrations.load(migration['id']), hv2.migrations.load(migration['id'])


# -- LiveSource.start ---------------------------------------------------------------------------
def test_start_records_the_move_its_probe_and_the_task(block):
    hv1, hv2 = block
    changed, migration, plan = start(hv1, hv2)
    assert changed is True and plan['storage'] == 'unknown until prep'
    saved = hv1.migrations.load(migration['id'])
    assert (saved['status'], saved['migration_type'], saved['source_compute'], saved['dest_compute']) == (
        ms.PRE_MIGRATING, lp.LIVE, 'hv1', 'hv2')
    assert saved['shared_storage'] is None                       # prep decides
    assert saved['dest_instances_path'] == hv2.paths.root and saved['live']['dest_uri'] == 'qemu+ssh://hv2/system'
    assert [(d['name'], d['dev'], d['format'], d['virtual_size'], d['readonly']) for d in saved['disks']] == [
        ('disk', 'vda', 'qcow2', DISK_CAPACITY, False)]
    assert saved['claim']['memory_mb'] == fakes.FLAVOR['memory_mb']
    assert read_probe(hv1.paths.probe(migration['id'])) == 'hv1'
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state) == ('hv1', 'active', 'migrating')
    assert record.migration == {'id': migration['id'], 'status': ms.PRE_MIGRATING, 'migration_type': lp.LIVE}
    assert migration_files(hv2) == [] and probes(hv2) == []      # nothing on the destination yet


def test_start_in_check_mode_writes_nothing(block):
    hv1, hv2 = block
    before = raw(hv1.paths.record(UUID))
    changed, migration, plan = start(hv1, hv2, check_mode=True)
    assert changed is True and migration['status'] == ms.PRE_MIGRATING and plan['destination'] == 'hv2'
    assert migration_files(hv1) == [] and probes(hv1) == []
    assert raw(hv1.paths.record(UUID)) == before
    assert hv1.migrations.load(migration['id']) is None


def test_start_again_reuses_the_move_started(block):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    changed, again, _plan = start(hv1, hv2)
    assert (changed, again['id']) == (False, migration['id'])
    assert migration_files(hv1) == ['%s.json' % migration['id']]
    # the task cleared meanwhile (a recovery): the same move, its task put back
    record = hv1.store.load(UUID)
    record.task_state = None
    hv1.store.save(record)
    changed, again, _plan = start(hv1, hv2)
    assert (changed, again['id'], hv1.store.load(UUID).task_state) == (True, migration['id'], 'migrating')
    assert migration_files(hv1) == ['%s.json' % migration['id']]


def test_start_towards_another_host_while_a_move_is_open_is_refused(block, tmp_path):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    with pytest.raises(MigrationError, match='migration %s to hv2 is pre-migrating; finish or roll it back first'
                       % migration['id']):
        start(hv1, live_hypervisor(tmp_path / 'c', 'hv3'))
    assert migration_files(hv1) == ['%s.json' % migration['id']]


def shut_off(hv):
    guest(hv).destroy()


def stopped(hv):
    guest(hv).destroy()
    record = hv.store.load(UUID)
    record.vm_state, record.power_state = 'stopped', 'shutdown'
    hv.store.save(record)


def paused(hv):
    guest(hv).state = fakes.PAUSED


def record_field(**fields):
    def change(hv):
        record = hv.store.load(UUID)
        for name, value in fields.items():
            setattr(record, name, value)
        hv.store.save(record)
    return change


def no_domain(hv):
    del hv.host.domains[UUID]


@pytest.mark.parametrize('change, error, text', [
    pytest.param(shut_off, InstanceInvalidState, 'in vm_state active with the guest shutdown', id='guest-shut-off'),
    pytest.param(stopped, InstanceInvalidState, 'in vm_state stopped with the guest shutdown', id='stopped'),
    pytest.param(paused, InstanceInvalidState, 'with the guest paused', id='guest-paused'),
    pytest.param(record_field(locked=True), InstanceLocked, 'instance is locked', id='locked'),
    pytest.param(record_field(task_state='powering-off'), InstanceInvalidState,
                 "cannot 'migrate' while in task_state powering-off", id='task-set'),
    pytest.param(record_field(host='hv3'), InstanceInvalidState, 'instance is owned by host hv3', id='other-host'),
    pytest.param(no_domain, MigrationError, 'the instance has no domain on hv1', id='no-domain'),
])
@pytest.mark.parametrize('check_mode', [False, True], ids=['run', 'check-mode'])
def test_start_refuses_and_writes_nothing(block, change, error, text, check_mode):
    hv1, hv2 = block
    change(hv1)
    before = raw(hv1.paths.record(UUID))
    with pytest.raises(error) as caught:
        start(hv1, hv2, check_mode=check_mode)
    assert text in caught.value.message
    assert migration_files(hv1) == [] and probes(hv1) == []
    assert raw(hv1.paths.record(UUID)) == before


def test_start_refuses_this_host_as_destination(block):
    hv1, _hv2 = block
    with pytest.raises(InvalidInput, match='a live migration needs another host'):
        start(hv1, hv1)
    assert migration_files(hv1) == [] and hv1.store.load(UUID).task_state is None


# -- LiveSource.check_migrate / migrate: the storage decision --------------------------------------
def other_id(migration):
    return dict(migration, id='66666666-aaaa-4bbb-8ccc-000000000009', shared_storage=False)


NEEDS_PREP = 'needs migration: the one step=prep returned on hv2'


@pytest.mark.parametrize('prepared, probe, text', [
    pytest.param(lambda m: None, 'hv1', NEEDS_PREP, id='not-passed'),
    pytest.param(other_id, 'hv1', NEEDS_PREP, id='another-migration'),
    pytest.param(lambda m: dict(m, shared_storage=None), 'hv1', NEEDS_PREP, id='undecided'),
    pytest.param(lambda m: dict(m, shared_storage='false'), 'hv1', NEEDS_PREP, id='a-string'),
    pytest.param(lambda m: dict(m, shared_storage=0), 'hv1', NEEDS_PREP, id='zero-is-not-a-bool'),
    pytest.param(lambda m: dict(m, shared_storage=True), 'hv1',
                 'prep on hv2 decided the storage is shared, but the probe the source reads says block',
                 id='prep-shared-probe-block'),
    pytest.param(lambda m: dict(m, shared_storage=False), 'hv2',
                 'prep on hv2 decided the storage is block, but the probe the source reads says shared',
                 id='prep-block-probe-names-dest'),
    pytest.param(lambda m: dict(m, shared_storage=False), None, 'the probe of migration', id='probe-gone'),
])
def test_migrate_refuses_a_storage_decision_prep_did_not_make(block, prepared, probe, text):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    path = hv1.paths.probe(migration['id'])
    if probe is None:
        os.unlink(path)
    else:
        write_probe(path, probe)
    given = prepared(migration)
    source = LiveSource(hv1)
    with pytest.raises(MigrationError) as caught:
        source.check_migrate(hv1.store.load(UUID), migration, given)
    assert text in caught.value.message
    record_before, migration_before = raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))
    guest(hv1).on_migrate = moves_to(hv2)
    with pytest.raises(MigrationError) as caught:
        source.migrate(hv1.store.load(UUID), migration, given)
    assert text in caught.value.message
    assert raw(hv1.paths.record(UUID)) == record_before
    assert raw(hv1.paths.migration(migration['id'])) == migration_before
    assert 'migrate' not in guest(hv1).calls and guest(hv2) is None


@pytest.mark.parametrize('shared_storage, probe', [
    pytest.param(False, 'hv1', id='block-probe-still-the-sources'),
    pytest.param(True, 'hv2', id='shared-probe-rewritten-by-dest'),
])
def test_check_migrate_accepts_a_decision_the_probe_agrees_with(block, shared_storage, probe):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    write_probe(hv1.paths.probe(migration['id']), probe)
    assert LiveSource(hv1).check_migrate(hv1.store.load(UUID), migration,
                                         dict(migration, shared_storage=shared_storage)) is shared_storage


def test_check_migrate_refuses_a_move_that_is_not_pre_migrating(block):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    hv1.migrations.save(migration, ms.MIGRATING)
    with pytest.raises(MigrationError, match="'migrate' needs pre-migrating"):
        LiveSource(hv1).check_migrate(hv1.store.load(UUID), migration, dict(migration, shared_storage=False))


# -- LiveSource.abort ---------------------------------------------------------------------------
@pytest.fixture
def migrating(block):
    """A move whose migrate step runs (migrating): (hv1, hv2, migration)."""
    hv1, hv2 = block
    migration = started(hv1, hv2)
    hv1.migrations.save(migration, ms.MIGRATING)
    return hv1, hv2, migration


@pytest.mark.parametrize('domain', ['idle', 'gone'])
def test_abort_without_a_job_does_nothing(migrating, domain):
    hv1, _hv2, migration = migrating
    if domain == 'gone':
        del hv1.host.domains[UUID]
    before = raw(hv1.paths.migration(migration['id']))
    assert LiveSource(hv1).abort(hv1.store.load(UUID), migration) is False
    assert not os.path.exists(hv1.paths.abort_request(migration['id']))
    assert raw(hv1.paths.migration(migration['id'])) == before
    if domain == 'idle':
        assert 'abort_job' not in guest(hv1).calls


def test_abort_of_a_running_job_asks_in_its_own_file_and_leaves_the_migration_alone(migrating):
    hv1, _hv2, migration = migrating
    guest(hv1).job = True
    record_before, migration_before = raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))
    assert LiveSource(hv1).abort(hv1.store.load(UUID), migration) is True
    assert os.path.exists(hv1.paths.abort_request(migration['id']))
    assert hv1.migrations.abort_requested(migration['id'])
    assert guest(hv1).calls.count('abort_job') == 1 and guest(hv1).job is False
    # the migrate run holds the newer copy of the migration: never written over
    assert raw(hv1.paths.migration(migration['id'])) == migration_before
    assert raw(hv1.paths.record(UUID)) == record_before


def test_abort_needs_a_migrating_move(block):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    guest(hv1).job = True
    with pytest.raises(MigrationError, match="'abort' needs migrating"):
        LiveSource(hv1).abort(hv1.store.load(UUID), migration)
    assert 'abort_job' not in guest(hv1).calls and not hv1.migrations.abort_requested(migration['id'])


# -- LiveSource.rollback ------------------------------------------------------------------------
def test_source_rollback_refuses_while_libvirts_job_runs(migrating):
    hv1, _hv2, migration = migrating
    guest(hv1).job = True
    before = raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))
    with pytest.raises(MigrationError, match="libvirt's migration job still runs on hv1: abort it"):
        LiveSource(hv1).rollback(hv1.store.load(UUID), migration)
    assert (raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))) == before
    assert os.path.exists(hv1.paths.probe(migration['id']))


def test_source_rollback_refuses_when_the_guest_left(migrating):
    hv1, _hv2, migration = migrating
    del hv1.host.domains[UUID]
    before = raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))
    with pytest.raises(MigrationError, match='the guest is not on hv1 any more'):
        LiveSource(hv1).rollback(hv1.store.load(UUID), migration)
    assert (raw(hv1.paths.record(UUID)), raw(hv1.paths.migration(migration['id']))) == before
    assert os.path.exists(hv1.paths.probe(migration['id']))


@pytest.mark.parametrize('final, asked, record_host, guest_there, power', [
    pytest.param(ms.ERROR, False, 'hv1', True, 'running', id='error'),
    pytest.param(ms.CANCELLED, True, 'hv1', True, 'running', id='cancelled-after-an-abort'),
    pytest.param(ms.ERROR, True, 'hv2', True, 'running', id='record-named-the-destination'),
    pytest.param(ms.CANCELLED, False, 'hv1', False, 'nostate', id='guest-gone-recovery-does-not-require-it'),
])
def test_source_rollback_makes_the_record_this_hosts_again(migrating, final, asked, record_host, guest_there, power):
    hv1, _hv2, migration = migrating
    if asked:
        hv1.migrations.request_abort(migration['id'])
    record = hv1.store.load(UUID)
    record.host = record_host
    hv1.store.save(record)
    if not guest_there:
        del hv1.host.domains[UUID]
    assert LiveSource(hv1).rollback(hv1.store.load(UUID), migration, final_status=final,
                                    require_guest=guest_there) is True
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state, record.power_state) == ('hv1', 'active', None, power)
    assert record.migration == {'id': migration['id'], 'status': final, 'migration_type': lp.LIVE}
    assert status(hv1, migration) == final
    assert not os.path.exists(hv1.paths.probe(migration['id']))
    assert not os.path.exists(hv1.paths.abort_request(migration['id']))
    # done: a second rollback changes nothing
    before = raw(hv1.paths.record(UUID))
    assert LiveSource(hv1).rollback(hv1.store.load(UUID), hv1.migrations.load(migration['id'])) is False
    assert raw(hv1.paths.record(UUID)) == before


def test_source_rollback_refuses_a_move_past_the_job(migrating):
    hv1, _hv2, migration = migrating
    hv1.migrations.save(migration, ms.POST_MIGRATING)
    with pytest.raises(MigrationError, match="'revert' needs pre-migrating or migrating or error or cancelled"):
        LiveSource(hv1).rollback(hv1.store.load(UUID), migration)
    assert status(hv1, migration) == ms.POST_MIGRATING and hv1.store.load(UUID).task_state == 'migrating'


# -- LiveDest.rollback --------------------------------------------------------------------------
def defined_off(hv1, hv2):
    """The instance's domain defined (not running) on ``hv2`` from the XML
    the source hands over, as a failed job with PERSIST_DEST leaves it."""
    dest_dir = hv2.paths.instance_dir(UUID)
    return hv2.host.define(xml_for_destination(guest(hv1).xml(), hv1.paths.instance_dir(UUID), dest_dir, 'hv2'))


@pytest.fixture
def block_prepped(block):
    """start and the real prep of a block migration on hv2 (its own copy of
    the migration, its probe, the disks pre-created in its instance dir):
    (hv1, hv2, migration)."""
    hv1, hv2 = block
    migration = started(hv1, hv2)
    assert LiveDest(hv2).prep(migration)[2] == lp.BLOCK
    assert os.path.isfile(os.path.join(hv2.paths.instance_dir(UUID), 'disk'))
    migration = hv2.migrations.load(migration['id'])
    assert migration['shared_storage'] is False
    return hv1, hv2, migration


def test_dest_rollback_without_its_own_copy_removes_nothing(block):
    hv1, hv2 = block
    migration = dict(started(hv1, hv2), shared_storage=False)
    directory = hv2.paths.instance_dir(UUID)
    os.makedirs(directory)
    with open(os.path.join(directory, 'disk'), 'wb') as handle:
        handle.write(b'not this move\'s')
    left = defined_off(hv1, hv2)
    write_probe(hv2.paths.probe(migration['id']), 'hv2')
    assert LiveDest(hv2).rollback(None, migration) is False
    assert raw(os.path.join(directory, 'disk')) == b'not this move\'s'
    assert guest(hv2) is left and left.calls == []
    assert read_probe(hv2.paths.probe(migration['id'])) == 'hv2'
    assert migration_files(hv2) == []


@pytest.mark.parametrize('final', [ms.ERROR, ms.CANCELLED])
@pytest.mark.parametrize('sent_ahead', [False, True], ids=['no-record', 'record-sent-ahead'])
def test_dest_rollback_of_a_block_migration_removes_what_prep_made(block_prepped, final, sent_ahead):
    hv1, hv2, migration = block_prepped
    left = defined_off(hv1, hv2)
    if sent_ahead:
        sent = hv1.store.load(UUID)
        hv2.store.save(sent)
    record = hv2.store.load(UUID) if sent_ahead else None
    assert hv2.migrations.claimed('hv2') != (0, 0)
    assert LiveDest(hv2).rollback(record, migration, final_status=final) is True
    assert not os.path.exists(hv2.paths.instance_dir(UUID))
    assert guest(hv2) is None and left.calls == ['destroy', 'undefine keep_nvram=False']
    assert not os.path.exists(hv2.paths.probe(migration['id']))
    assert status(hv2, migration) == final and hv2.migrations.claimed('hv2') == (0, 0)
    if sent_ahead:
        kept = hv2.store.load(UUID)
        assert kept.task_state is None and kept.migration['status'] == final
    # the source's files are its own
    assert os.path.isfile(os.path.join(hv1.paths.instance_dir(UUID), 'disk'))
    assert read_probe(hv1.paths.probe(migration['id'])) == 'hv1'


def test_dest_rollback_of_an_undecided_copy_keeps_the_directory(block):
    hv1, hv2 = block
    migration = started(hv1, hv2)
    hv2.migrations.save(dict(migration, shared_storage=None))
    directory = hv2.paths.instance_dir(UUID)
    os.makedirs(directory)
    write_probe(hv2.paths.probe(migration['id']), 'hv2')
    assert LiveDest(hv2).rollback(None, migration) is True
    assert os.path.isdir(directory)
    assert status(hv2, migration) == ms.ERROR and not os.path.exists(hv2.paths.probe(migration['id']))


def test_dest_rollback_on_shared_storage_keeps_the_sources_directory_and_record(shared):
    hv1, hv2 = shared
    migration, prepared = prepared_shared(hv1, hv2)
    assert prepared['shared_storage'] is True
    disk = os.path.join(hv1.paths.instance_dir(UUID), 'disk')
    record_before, disk_before = raw(hv1.paths.record(UUID)), raw(disk)
    assert LiveDest(hv2).rollback(hv2.store.load(UUID), prepared, final_status=ms.CANCELLED) is True
    assert raw(disk) == disk_before and raw(hv1.paths.record(UUID)) == record_before
    assert status(hv1, migration) == ms.CANCELLED            # one migration file for both hosts
    assert guest(hv1).is_running()


def test_dest_rollback_refuses_a_guest_that_runs_here_without_a_job(block_prepped):
    hv1, hv2, migration = block_prepped
    defined_off(hv1, hv2).start_behind_our_back()
    with pytest.raises(MigrationError, match='the guest runs on hv2: the live migration completed; finish it here'):
        LiveDest(hv2).rollback(None, migration)
    assert guest(hv2).is_running() and os.path.isdir(hv2.paths.instance_dir(UUID))
    assert status(hv2, migration) == ms.PRE_MIGRATING


def test_dest_rollback_is_not_refused_while_a_job_runs_on_the_domain_here(block_prepped):
    hv1, hv2, migration = block_prepped
    incoming = defined_off(hv1, hv2)
    incoming.start_behind_our_back()
    incoming.state, incoming.job = fakes.PAUSED, True
    assert LiveDest(hv2).rollback(None, migration) is True
    assert guest(hv2) is None and 'destroy' in incoming.calls
    assert not os.path.exists(hv2.paths.instance_dir(UUID))


# an incoming domain is transient (persistent once the job completes): destroy() removes it
def test_dest_rollback_of_an_incoming_transient_domain_removes_everything(block_prepped):
    hv1, hv2, migration = block_prepped
    incoming = defined_off(hv1, hv2)
    incoming.start_behind_our_back()
    incoming.state, incoming.job, incoming.persistent = fakes.PAUSED, True, False    # libvirt's incoming domain
    assert LiveDest(hv2).rollback(None, migration) is True
    assert guest(hv2) is None and not os.path.exists(hv2.paths.instance_dir(UUID))
    assert status(hv2, migration) == ms.ERROR and hv2.migrations.claimed('hv2') == (0, 0)


def test_dest_rollback_on_another_host_is_refused(block_prepped):
    hv1, _hv2, migration = block_prepped
    with pytest.raises(MigrationError, match='this is host hv1; migration .* goes to hv2'):
        LiveDest(hv1).rollback(None, migration)
    assert os.path.isdir(hv1.paths.instance_dir(UUID))


# -- a whole move on shared storage, and LiveDest.finish ------------------------------------------
@pytest.fixture
def moved(shared, verdict):
    """A shared-storage live migration whose job completed: the guest runs
    on hv2, the record handed over, hv2 not finished yet."""
    hv1, hv2 = shared
    migration, prepared = prepared_shared(hv1, hv2)
    source = guest(hv1)
    source.on_migrate = moves_to(hv2)
    result = LiveSource(hv1).migrate(hv1.store.load(UUID), migration, prepared)
    assert result['storage'] == lp.SHARED
    # memory only: no disk copied, libvirt told the storage is shared
    assert source.migrate_args == {'dest_uri': 'qemu+ssh://hv2/system', 'migrate_uri': 'tcp://hv2', 'disks': None,
                                   'flags': ['LIVE', 'PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE']}
    return hv1, hv2, migration


def test_migrate_on_shared_storage_hands_the_record_over(moved):
    hv1, hv2, migration = moved
    record = hv2.store.load(UUID)
    assert (record.host, record.task_state, record.power_state) == ('hv2', 'migrating', 'running')
    assert status(hv2, migration) == ms.POST_MIGRATING
    assert guest(hv1) is None and guest(hv2).is_running()
    assert os.path.isfile(os.path.join(hv1.paths.instance_dir(UUID), 'disk'))     # shared: nothing removed


def test_finish_makes_the_instance_the_destinations(moved):
    _hv1, hv2, migration = moved
    assert hv2.migrations.claimed('hv2') != (0, 0)
    assert LiveDest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id'])) is True
    record = hv2.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state, record.power_state) == ('hv2', 'active', None, 'running')
    assert record.migration['status'] == ms.COMPLETED
    assert status(hv2, migration) == ms.COMPLETED and hv2.migrations.claimed('hv2') == (0, 0)
    assert not os.path.exists(hv2.paths.probe(migration['id']))
    assert Domain.from_xml(raw(hv2.paths.xml(UUID)).decode()).instance.host == 'hv2'
    assert LiveDest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id'])) is False


@pytest.mark.parametrize('gone', ['shut-off', 'no-domain'])
def test_finish_refuses_when_the_guest_does_not_run_here(moved, gone):
    _hv1, hv2, migration = moved
    if gone == 'shut-off':
        guest(hv2).destroy()
    else:
        del hv2.host.domains[UUID]
    before = raw(hv2.paths.record(UUID))
    with pytest.raises(MigrationError, match='the guest does not run on hv2: the live migration has not completed'):
        LiveDest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    assert raw(hv2.paths.record(UUID)) == before and status(hv2, migration) == ms.POST_MIGRATING


def test_finish_of_a_guest_that_died_here_when_not_required_to_run(moved):
    _hv1, hv2, migration = moved
    guest(hv2).destroy()
    assert LiveDest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id']), require_running=False)
    record = hv2.store.load(UUID)
    assert (record.host, record.task_state, record.power_state) == ('hv2', None, 'shutdown')
    assert status(hv2, migration) == ms.COMPLETED


def test_finish_refuses_a_move_still_before_its_job_and_another_host(shared):
    hv1, hv2 = shared
    migration, prepared = prepared_shared(hv1, hv2)
    with pytest.raises(MigrationError, match="'finish' needs post-migrating or completed"):
        LiveDest(hv2).finish(hv2.store.load(UUID), prepared)
    with pytest.raises(MigrationError, match='this is host hv1; migration .* goes to hv2'):
        LiveDest(hv1).finish(hv1.store.load(UUID), dict(prepared, status=ms.POST_MIGRATING))
    assert hv1.store.load(UUID).task_state == 'migrating' and status(hv1, migration) == ms.PRE_MIGRATING


# -- LiveMove.failed ------------------------------------------------------------------------------
def aborted_by_the_abort_step(hv1, code):
    """instance_migrate step=abort runs while the job does: the job ends with ``code``."""
    def on_migrate(source_guest, _xml):
        source_guest.job = True
        migration = hv1.migrations.load(hv1.store.load(UUID).migration['id'])
        assert LiveSource(hv1).abort(hv1.store.load(UUID), migration) is True
        raise libvirt_error('operation aborted: migration out job: canceled by client', code)
    return on_migrate


def guest_left_then_fails(source_guest, _xml):
    del source_guest.host.domains[source_guest.uuid]
    raise libvirt_error('internal error: connection closed', VIR_ERR_INTERNAL_ERROR)


def job_outlives_the_call(source_guest, _xml):
    source_guest.job = True
    raise libvirt_error('internal error: client socket is closed', VIR_ERR_INTERNAL_ERROR)


ROLLED_BACK_HERE = '; the guest keeps running on hv1; roll the destination back with step=revert there'
ABORTED = 'operation aborted: job canceled'


def failing(message, code):
    return lambda _hv1: fails_with(message, code)


# (what libvirt's job does on hv1, the monitor's verdict, status on disk, vm_state, task_state, how the message
#  starts, what it says further on)
FAILURES = [
    pytest.param(failing('operation failed: migration failed', 9), {}, ms.ERROR, 'active', None,
                 LIBVIRT + 'operation failed: migration failed', ROLLED_BACK_HERE, id='plain-failure-error'),
    pytest.param(failing(ABORTED, VIR_ERR_OPERATION_ABORTED), {}, ms.CANCELLED, 'active', None,
                 LIBVIRT + ABORTED, ROLLED_BACK_HERE, id='aborted-by-libvirt'),
    pytest.param(lambda hv1: aborted_by_the_abort_step(hv1, VIR_ERR_OPERATION_ABORTED), {}, ms.CANCELLED,
                 'active', None, 'the live migration was aborted (step=abort); libvirt: ' + LIBVIRT + 'operation aborted',
                 ROLLED_BACK_HERE, id='abort-step'),
    pytest.param(lambda hv1: aborted_by_the_abort_step(hv1, VIR_ERR_INTERNAL_ERROR), {}, ms.CANCELLED,
                 'active', None, 'the live migration was aborted (step=abort)', ROLLED_BACK_HERE,
                 id='abort-step-job-ends-with-a-broken-connection'),
    pytest.param(failing(ABORTED, VIR_ERR_OPERATION_ABORTED), {'timed_out': True}, ms.CANCELLED, 'active', None,
                 'the live migration did not complete within 1600 s (completion_timeout 800 s per GiB',
                 ROLLED_BACK_HERE, id='timed-out'),
    pytest.param(failing('internal error: qemu unexpectedly closed', VIR_ERR_INTERNAL_ERROR), {'timed_out': True},
                 ms.CANCELLED, 'active', None, 'the live migration did not complete within', ROLLED_BACK_HERE,
                 id='timed-out-whatever-libvirt-says'),
    pytest.param(failing('operation failed: post-copy failed', 9), {'post_copy': True}, ms.MIGRATING, 'error', None,
                 LIBVIRT + 'operation failed: post-copy failed',
                 '; it had switched to post-copy: the guest is in error, nothing is rolled back', id='post-copy'),
    pytest.param(lambda _hv1: guest_left_then_fails, {}, ms.MIGRATING, 'active', 'migrating',
                 LIBVIRT + 'internal error: connection closed',
                 '; the guest no longer runs on hv1 (libvirt may have completed the move): nothing is rolled back',
                 id='guest-left'),
    pytest.param(lambda _hv1: job_outlives_the_call, {}, ms.MIGRATING, 'active', 'migrating',
                 LIBVIRT + 'internal error: client socket is closed',
                 "; libvirt's migration job still runs on hv1: nothing is rolled back", id='job-outlives-the-call'),
]


@pytest.mark.parametrize('job, monitor, final, vm_state, task_state, starts, says', FAILURES)
def test_a_failed_job_is_judged_by_failed(shared, verdict, monkeypatch, job, monitor, final, vm_state, task_state,
                                          starts, says):
    hv1, hv2 = shared
    monkeypatch.setattr(live_move, 'JOB_END_WAIT_S', -1.0)        # a job that outlives the call: no 30 s wait
    migration, prepared = prepared_shared(hv1, hv2)
    verdict.update(monitor)
    guest(hv1).on_migrate = job(hv1)
    with pytest.raises(NovaliteError) as caught:
        LiveSource(hv1).migrate(hv1.store.load(UUID), migration, prepared)
    message = caught.value.message
    assert message.startswith(starts) and says in message, message
    assert caught.value.step == 'live migration'
    assert status(hv1, migration) == final
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state) == ('hv1', vm_state, task_state)
    assert record.fault['message'] == message
    if final in ms.TERMINAL:        # rolled back on the source: the guest still runs here
        assert record.migration['status'] == final and record.power_state == 'running'
        assert not hv1.migrations.abort_requested(migration['id'])
        assert guest(hv1).is_running()
    else:                           # nothing rolled back: the probe is left for the rollback or the reconcile
        assert read_probe(hv1.paths.probe(migration['id'])) == 'hv2'


def test_a_failure_after_the_job_succeeded_rolls_nothing_back(shared, verdict):
    hv1, hv2 = shared
    migration, prepared = prepared_shared(hv1, hv2)

    def moves_then_lookups_fail(source_guest, dest_xml):
        moves_to(hv2)(source_guest, dest_xml)
        hv1.host.fail('lookup')
    guest(hv1).on_migrate = moves_then_lookups_fail
    with pytest.raises(NovaliteError) as caught:
        LiveSource(hv1).migrate(hv1.store.load(UUID), migration, prepared)
    assert caught.value.step == 'remove source copy'
    assert caught.value.message.endswith('; the guest runs on hv2: run the reconcile playbook to finish the '
                                         'hand-over')
    assert status(hv1, migration) == ms.POST_MIGRATING
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state) == ('hv1', 'active', 'migrating')
    assert read_probe(hv1.paths.probe(migration['id'])) == 'hv2'
    assert guest(hv2).is_running()


def test_a_guest_not_running_at_migrate_clears_the_task_and_keeps_the_move(shared, verdict):
    hv1, hv2 = shared
    migration, prepared = prepared_shared(hv1, hv2)
    guest(hv1).state = fakes.PAUSED
    with pytest.raises(MigrationError) as caught:
        LiveSource(hv1).migrate(hv1.store.load(UUID), migration, prepared)
    assert caught.value.message.startswith('the guest is paused: a live migration needs it running')
    assert caught.value.step == 'migrating'
    assert status(hv1, migration) == ms.PRE_MIGRATING
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state) == ('hv1', 'active', None)
    assert 'migrate' not in guest(hv1).calls
