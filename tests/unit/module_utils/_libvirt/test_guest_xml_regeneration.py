# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every flow that defines a domain again from the record (write_guest_xml)
keeps the guest agent channel chosen at build: hard reboot, redefine,
resize in place, metadata update, recovery with resume, cold migration
(finish on the destination) and its revert on the source, a same-host
resize. A record from before ``guest_agent`` existed regenerates without
one. Instances built by the real Spawner on fake hypervisors."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import GUEST_AGENT_CHANNEL
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import plan_reboot
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import run_all
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '88888888-aaaa-4bbb-8ccc-000000000001'
BIGGER = dict(fakes.FLAVOR, memory_mb=128, root_gb=2)
AGENT = [('unix', 'virtio', GUEST_AGENT_CHANNEL, None)]


def assert_defined_with(hv, expected, count_before=None):
    """The last XML defined on ``hv``, libvirt.xml and the domain's
    persistent definition all have ``expected`` channels."""
    if count_before is not None:
        assert len(hv.host.defined) > count_before, 'the flow did not define the domain again'
    assert fakes.channels(hv.host.defined[-1]) == expected
    with open(hv.paths.xml(UUID)) as handle:
        assert fakes.channels(handle.read()) == expected
    assert fakes.channels(hv.host.guest_by_uuid(UUID).xml(inactive=True)) == expected


@pytest.fixture
def hv(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    return fakes.hypervisor(tmp_path / 'instances')


@pytest.fixture
def pair(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    fakes.local_transfer(monkeypatch)
    hv1, hv2 = fakes.host_pair(tmp_path)
    fakes.build(hv1, UUID, guest_agent=True)
    return hv1, hv2


def test_hard_reboot_keeps_the_channel(hv):
    record = fakes.build(hv, UUID, guest_agent=True)
    assert_defined_with(hv, AGENT)
    defined = len(hv.host.defined)
    plan = plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'})
    fakes.rebooter(hv).reboot(record, plan, wait_timeout=5)
    assert_defined_with(hv, AGENT, defined)
    assert fakes.channels(hv.host.guest_by_uuid(UUID).xml()) == AGENT           # the running guest has it


def test_hard_reboot_of_a_record_from_before_the_option_adds_no_channel(hv):
    fakes.build(hv, UUID)
    fakes.forget_record_field(hv, UUID, 'guest_agent')
    record = hv.store.load(UUID)
    defined = len(hv.host.defined)
    fakes.rebooter(hv).reboot(record, plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'}),
                              wait_timeout=5)
    assert_defined_with(hv, [], defined)


def test_redefine_resize_in_place_and_metadata_keep_the_channel(hv):
    record = fakes.build(hv, UUID, power_on=False, guest_agent=True)
    lifecycle = fakes.lifecycle(hv)
    hv.host.guest_by_uuid(UUID).undefine()              # behind our back
    defined = len(hv.host.defined)
    lifecycle.redefine(record)
    assert_defined_with(hv, AGENT, defined)

    defined = len(hv.host.defined)
    lifecycle.resize(hv.store.load(UUID), BIGGER)
    assert_defined_with(hv, AGENT, defined)
    assert hv.host.guest_by_uuid(UUID).config(inactive=True).memory_kib == 128 * 1024

    lifecycle.update_metadata(hv.store.load(UUID), {'role': 'db'})
    with open(hv.paths.xml(UUID)) as handle:
        assert fakes.channels(handle.read()) == AGENT


def test_recovery_with_resume_defines_the_vanished_domain_with_the_channel(hv):
    fakes.build(hv, UUID, guest_agent=True)
    guest = hv.host.guest_by_uuid(UUID)
    guest.destroy()
    guest.undefine()
    reconciler = fakes.reconciler(hv, resume=True, shutdown_timeout=30, wait_timeout=5)
    entries, _orphans = reconciler.plan('both', hv.store.list())
    assert [a.kind for a in entries[0]['actions']] == ['resume']
    _results, errors = run_all(reconciler, entries, 'both')
    assert errors == 0 and hv.host.guest_by_uuid(UUID).is_running()
    assert_defined_with(hv, AGENT)


def migrate(hv1, hv2, new_flavor=None):
    migration = fakes.start_move(hv1, hv2, UUID, new_flavor)
    fakes.migration_dest(hv2).prep(migration)
    fakes.migration_source(hv1).migrate(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                                        shutdown_timeout=5)
    fakes.migration_dest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id']), wait_timeout=5)
    return migration


def test_cold_migration_defines_the_channel_on_the_destination_and_revert_on_the_source(pair):
    hv1, hv2 = pair
    migration = migrate(hv1, hv2, BIGGER)
    assert hv2.store.load(UUID).guest_agent is True                        # handed over with the record
    assert_defined_with(hv2, AGENT)
    assert hv2.host.guest_by_uuid(UUID).is_running()

    fakes.migration_dest(hv2).revert(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    defined = len(hv1.host.defined)
    fakes.migration_source(hv1).revert(hv1.store.load(UUID), hv1.migrations.load(migration['id']), wait_timeout=5)
    assert_defined_with(hv1, AGENT, defined)
    assert hv1.store.load(UUID).guest_agent is True


def test_same_host_resize_keeps_the_channel(hv):
    fakes.build(hv, UUID, guest_agent=True)
    defined = len(hv.host.defined)
    migrate(hv, hv, BIGGER)
    assert_defined_with(hv, AGENT, defined)
    assert hv.host.guest_by_uuid(UUID).config(inactive=True).memory_kib == 128 * 1024
