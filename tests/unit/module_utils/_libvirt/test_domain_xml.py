"""The XML model against golden files: generation from a record (with and
without the guest agent channel), and parse-and-edit of foreign XML keeping
everything the model does not manage."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import GUEST_AGENT_CHANNEL, build_domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Channel, Disk, Domain
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden')


def golden(name):
    with open(os.path.join(GOLDEN, name)) as handle:
        return handle.read()


def sample_record(**overrides):
    data = {
        'uuid': '0f7a3c55-9a61-4c1e-8b53-2d0b0c3f6a11', 'name': 'web1', 'host': 'hv1',
        'created_at': '2026-01-02T03:04:05.000000Z', 'virt_type': 'kvm', 'config_drive': True,
        'flavor': {'vcpus': 2, 'memory_mb': 2048, 'root_gb': 20, 'ephemeral_gb': 5, 'swap_mb': 512},
        'image': {'url': 'https://images.example/debian.qcow2', 'checksum': 'sha256:' + 'a' * 64},
        'networks': [{'network': 'default', 'mac': 'fa:16:3e:00:00:01', 'model': 'virtio'},
                     {'bridge': 'br0', 'mac': 'fa:16:3e:00:00:02', 'model': 'virtio'}],
        'metadata': {'role': 'web', 'owner': 'ops'},
    }
    data.update(overrides)
    return InstanceRecord(data)


def test_generated_guest_matches_golden():
    xml = build_domain(sample_record(), InstancePaths('/var/lib/novalite/instances')).to_xml()
    assert xml == golden('guest-kvm-out.xml')
    assert len(Domain.from_xml(xml).channels) == 0          # no guest agent unless the record asks


def test_guest_agent_adds_one_virtio_channel_without_a_socket_path():
    """The golden file is guest-kvm-out.xml plus the channel, nothing else."""
    xml = build_domain(sample_record(guest_agent=True), InstancePaths('/var/lib/novalite/instances')).to_xml()
    assert xml == golden('guest-agent-out.xml')
    [channel] = Domain.from_xml(xml).channels
    assert (channel.type, channel.target_type, channel.target_name) == ('unix', 'virtio', GUEST_AGENT_CHANNEL)
    assert channel.source_path is None and channel.source_mode is None      # libvirt picks the socket


def test_a_record_from_before_guest_agent_existed_builds_no_channel():
    data = sample_record().to_dict()
    del data['guest_agent']
    xml = build_domain(InstanceRecord(data), InstancePaths('/var/lib/novalite/instances')).to_xml()
    assert xml == golden('guest-kvm-out.xml')


def test_metacharacters_are_escaped_not_refused():
    record = sample_record(name='a<b>&"c\'', metadata={'k&<': '"v">'}, config_drive=False,
                           flavor={'vcpus': 1, 'memory_mb': 64}, networks=[], virt_type='qemu')
    xml = build_domain(record, InstancePaths('/srv/i')).to_xml()
    assert xml == golden('guest-escaped-out.xml')
    again = Domain.from_xml(xml)
    assert again.name == 'a<b>&"c\''
    assert [(m.key, m.value) for m in again.instance.meta] == [('k&<', '"v">')]


def test_parse_edit_keeps_unknown_xml():
    domain = Domain.from_xml(golden('foreign-in.xml'))
    assert domain.name == 'legacy' and domain.memory_kib == 524288 and domain.vcpus == 1
    assert domain.instance is None          # not one of ours
    assert [d.target_dev for d in domain.disks] == ['vda']
    domain.vcpus = 4
    domain.memory_kib = 1048576
    domain.disks[0].source_file = '/new/path/disk'
    domain.disks.add(Disk(type='file', device='disk', driver_name='qemu', driver_type='raw',
                          source_file='/new/path/disk.local', target_dev='vdb', target_bus='virtio'))
    assert domain.to_xml() == golden('foreign-out.xml')


def test_channels_parse_edit_keeps_unknown_xml():
    """A running guest's live XML: the socket libvirt chose, aliases, the
    virtio-serial controller and addresses survive an edit of the channels."""
    domain = Domain.from_xml(golden('channel-in.xml'))
    agent, spice = domain.channels
    assert (agent.type, agent.source_mode, agent.target_type, agent.target_name, agent.target_state) == (
        'unix', 'bind', 'virtio', GUEST_AGENT_CHANNEL, 'connected')
    assert agent.source_path == '/run/libvirt/qemu/channel/7-agent-live/org.qemu.guest_agent.0'
    assert (spice.type, spice.source_path, spice.target_state) == ('spicevmc', None, 'disconnected')
    assert domain.instance is None and domain.id == 7
    agent.target_state = None
    domain.channels.remove(spice)
    domain.channels.add(Channel(type='unix', target_type='virtio', target_name='org.example.agent.0'))
    assert domain.to_xml() == golden('channel-out.xml')
    again = Domain.from_xml(domain.to_xml())
    assert [c.target_name for c in again.channels] == [GUEST_AGENT_CHANNEL, 'org.example.agent.0']


def test_a_channel_on_its_own_round_trips_unchanged():
    text = ('<channel type="unix">\n'
            '  <source mode="bind" path="/tmp/x.sock"/>\n'
            '  <target type="virtio" name="org.qemu.guest_agent.0"/>\n'
            '  <address type="virtio-serial" controller="0" bus="0" port="1"/>\n'
            '</channel>\n')
    channel = Channel.from_xml(text)
    assert channel.to_xml() == text
    channel.source_path = '/tmp/y.sock'
    assert Channel.from_xml(channel.to_xml()).source_path == '/tmp/y.sock'
    assert '<address type="virtio-serial" controller="0" bus="0" port="1"/>' in channel.to_xml()


@pytest.mark.parametrize('field, value', [('vcpus', None), ('acpi', False), ('cpu_mode', None)])
def test_clearing_a_field_removes_it(field, value):
    domain = build_domain(sample_record(), InstancePaths('/x'))
    setattr(domain, field, value)
    assert getattr(domain, field) in (None, False)
    assert getattr(Domain.from_xml(domain.to_xml()), field) in (None, False)
