# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_instance's ``guest_agent`` through its module object (the real
argument spec, policy, step table and engines on a fake hypervisor): the
channel is chosen when the instance is built; on an existing instance a
different value is reported with a warning and changes nothing, in check
mode and in a real run alike, and the diff says so."""

from __future__ import annotations

import json

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import GUEST_AGENT_CHANNEL
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '77777777-aaaa-4bbb-8ccc-000000000001'
SPEC = dict(name='web1', uuid=UUID, flavor=dict(vcpus=1, memory_mb=64, root_gb=1), image=dict(fakes.IMAGE),
            networks=[{'network': 'default'}], virt_type='qemu', config_drive=False)


@pytest.fixture
def hv(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    return fakes.hypervisor(tmp_path / 'instances')


def run(hv, monkeypatch, check_mode=False, **given):
    engine = fakes.instance_module(hv, monkeypatch, check_mode=check_mode, diff=True, **dict(SPEC, **given))
    return engine.run(), engine.module.warnings


def test_the_option_defaults_to_no_channel(hv, monkeypatch):
    result, warnings = run(hv, monkeypatch)
    assert result['changed'] and warnings == []
    assert result['instance']['guest_agent'] is False and hv.store.load(UUID).guest_agent is False
    assert fakes.channels(hv.host.guest_by_uuid(UUID).xml(inactive=True)) == []


def test_a_new_instance_gets_the_channel_in_check_mode_and_for_real(hv, monkeypatch):
    result, warnings = run(hv, monkeypatch, check_mode=True, guest_agent=True)
    assert result['changed'] and result['plan'] == [{'step': 'spawn', 'power_on': True}] and warnings == []
    assert result['diff']['after']['guest_agent'] is True and hv.store.load(UUID) is None

    result, warnings = run(hv, monkeypatch, guest_agent=True)
    assert result['changed'] and warnings == [] and result['diff']['after']['guest_agent'] is True
    assert result['instance']['guest_agent'] is True and hv.store.load(UUID).guest_agent is True
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.is_running()
    assert fakes.channels(guest.xml(inactive=True)) == [('unix', 'virtio', GUEST_AGENT_CHANNEL, None)]
    with open(hv.paths.xml(UUID)) as handle:
        assert fakes.channels(handle.read()) == [('unix', 'virtio', GUEST_AGENT_CHANNEL, None)]

    again, warnings = run(hv, monkeypatch, guest_agent=True)
    assert not again['changed'] and again['plan'] == [] and warnings == []


@pytest.mark.parametrize('check_mode', [True, False])
@pytest.mark.parametrize('built_with', [True, False])
def test_a_different_value_on_an_existing_instance_warns_and_changes_nothing(hv, monkeypatch, check_mode,
                                                                             built_with):
    run(hv, monkeypatch, guest_agent=built_with)
    defined = list(hv.host.defined)
    with open(hv.paths.record(UUID)) as handle:
        record_before = json.load(handle)
    with open(hv.paths.xml(UUID)) as handle:
        xml_before = handle.read()

    result, warnings = run(hv, monkeypatch, check_mode=check_mode, guest_agent=not built_with)
    assert not result['changed'] and result['plan'] == []
    [warning] = warnings
    assert warning.startswith('guest_agent=%s is not applied to instance web1 (%s)'
                              % (str(not built_with).lower(), UUID))
    assert 'built with guest_agent=%s' % str(built_with).lower() in warning
    assert result['instance']['guest_agent'] is built_with                  # what the instance has
    assert result['diff']['before']['guest_agent'] is built_with
    assert result['diff']['after']['guest_agent'] is built_with
    with open(hv.paths.record(UUID)) as handle:
        assert json.load(handle) == record_before
    with open(hv.paths.xml(UUID)) as handle:
        assert handle.read() == xml_before
    assert hv.host.defined == defined


@pytest.mark.parametrize('built_with', [True, False])
def test_leaving_the_option_out_keeps_the_instance_as_built_without_a_warning(hv, monkeypatch, built_with):
    # through the real argument spec: a task that only says state=stopped
    run(hv, monkeypatch, guest_agent=built_with)
    result, warnings = run(hv, monkeypatch, state='stopped')
    assert result['changed'] and warnings == []
    assert result['instance']['guest_agent'] is built_with
    with open(hv.paths.xml(UUID)) as handle:
        assert (fakes.channels(handle.read()) != []) is built_with


def test_a_different_value_with_other_changes_warns_and_does_only_those(hv, monkeypatch):
    run(hv, monkeypatch, state='stopped')
    result, warnings = run(hv, monkeypatch, guest_agent=True, metadata={'role': 'db'})
    assert result['plan'] == [{'step': 'update_metadata'}, {'step': 'start'}] and len(warnings) == 1
    record = hv.store.load(UUID)
    assert record.guest_agent is False and record.metadata == {'role': 'db'}
    assert fakes.channels(hv.host.guest_by_uuid(UUID).xml(inactive=True)) == []


def test_an_instance_recorded_before_the_option_existed_has_no_channel_and_no_warning(hv, monkeypatch):
    run(hv, monkeypatch)
    fakes.forget_record_field(hv, UUID, 'guest_agent')

    result, warnings = run(hv, monkeypatch)
    assert not result['changed'] and warnings == [] and result['instance']['guest_agent'] is False
    result, warnings = run(hv, monkeypatch, guest_agent=True)
    assert not result['changed'] and len(warnings) == 1


def test_a_build_that_never_launched_is_built_again_with_the_new_value(hv, monkeypatch):
    hv.host.fail('define')
    with pytest.raises(HypervisorError):
        run(hv, monkeypatch)
    del hv.host.failures['define']
    record = hv.store.load(UUID)
    assert record.vm_state == 'error' and record.launched_at is None and record.guest_agent is False

    result, warnings = run(hv, monkeypatch, guest_agent=True)
    assert result['plan'] == [{'step': 'spawn', 'power_on': True}] and warnings == []
    assert hv.store.load(UUID).guest_agent is True
    assert fakes.channels(hv.host.guest_by_uuid(UUID).xml(inactive=True)) == [('unix', 'virtio', GUEST_AGENT_CHANNEL, None)]
