"""The destination's XML of a live migration against golden files (what
``virsh dumpxml --migratable`` prints for our guests, with the guest agent
channel), then the path rules one device at a time, the disks the source
reports and the guest CPU it checks on the destination."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.live_xml import (
    cpu_xml,
    disk_targets,
    xml_for_destination,
)
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.xml_fields import etree

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden')
UUID = '55c8108a-4a02-4bda-b2c8-75bce71ad98a'
SOURCE_DIR = '/tmp/lm/a/' + UUID
DEST_DIR = '/var/lib/novalite-hostb/instances/' + UUID
AGENT_SOCKET = '/var/lib/libvirt/qemu/channel/target/domain-3-x/org.qemu.guest_agent.0'


def golden(name):
    with open(os.path.join(GOLDEN, name)) as handle:
        return handle.read()


def addresses(xml):
    """Every <address> element, with the tag of the device holding it."""
    root = etree.fromstring(xml.encode('utf-8'))
    return sorted((node.getparent().tag, sorted(node.attrib.items())) for node in root.iter('address'))


# -- the whole document -----------------------------------------------------------------------------
def test_migratable_xml_becomes_the_destinations():
    """Disks, serial and console move to the destination's instance
    directory; the guest agent's socket is dropped for the destination's
    libvirt to choose; our metadata names hostB; nothing else changes."""
    xml = xml_for_destination(golden('live-migratable-in.xml'), SOURCE_DIR, DEST_DIR, 'hostB')
    assert xml == golden('live-dest-out.xml')


def test_every_device_address_is_kept():
    """libvirt's ABI check on the destination compares them."""
    source = golden('live-migratable-in.xml')
    xml = xml_for_destination(source, SOURCE_DIR, DEST_DIR, 'hostB')
    assert addresses(xml) == addresses(source)
    assert len(addresses(xml)) == 8          # 3 disks, 2 controllers, the NIC, the channel, the balloon


def test_nothing_of_the_source_dir_is_left_and_the_rest_is_kept():
    domain = Domain.from_xml(xml_for_destination(golden('live-migratable-in.xml'), SOURCE_DIR, DEST_DIR, 'hostB'))
    assert SOURCE_DIR not in domain.to_xml()
    assert [d.source_file for d in domain.disks] == [DEST_DIR + '/disk', DEST_DIR + '/disk.local',
                                                     DEST_DIR + '/disk.config']
    assert [(s.type, s.source_path) for s in domain.serials] == [('file', DEST_DIR + '/console.log'), ('pty', None)]
    assert [c.source_path for c in domain.consoles] == [DEST_DIR + '/console.log']
    [agent] = domain.channels
    assert (agent.type, agent.source_path, agent.source_mode, agent.target_name) == (
        'unix', None, None, 'org.qemu.guest_agent.0')
    meta = domain.instance
    assert (meta.host, meta.name, meta.flavor_memory_mb) == ('hostB', 'lmtest1', 256)
    assert (domain.name, domain.uuid, domain.memory_kib, domain.os_machine) == ('lmtest1', UUID, 262144, 'pc-i440fx-7.2')


def test_the_input_is_not_changed():
    source = golden('live-migratable-in.xml')
    xml_for_destination(source, SOURCE_DIR, DEST_DIR, 'hostB')
    assert AGENT_SOCKET in source and SOURCE_DIR + '/disk' in source


# -- one device at a time -------------------------------------------------------------------------------
def domain_xml(devices, metadata=True):
    meta = ('<metadata><nl:instance xmlns:nl="https://novalite.dev/xmlns/compute/1.0"><nl:name>x</nl:name>'
            '<nl:host>hostA</nl:host></nl:instance></metadata>') if metadata else ''
    return ("<domain type='qemu'><name>x</name><uuid>%s</uuid>%s<memory unit='KiB'>65536</memory>"
            "<devices>%s</devices></domain>" % (UUID, meta, devices))


def disk(path):
    return "<disk type='file' device='disk'><source file='%s'/><target dev='vda' bus='virtio'/></disk>" % path


def moved_disk(path, source_dir='/i/u-1', dest_dir='/j/u-1'):
    return Domain.from_xml(xml_for_destination(domain_xml(disk(path)), source_dir, dest_dir, 'hostB')).disks[0]


@pytest.mark.parametrize('path, source_dir, dest_dir, moved', [
    ('/i/u-1/disk', '/i/u-1', '/j/u-1', '/j/u-1/disk'),
    ('/i/u-1/sub/disk.eph0', '/i/u-1', '/j/u-1', '/j/u-1/sub/disk.eph0'),
    ('/i/u-1/disk', '/i/u-1/', '/j/u-1/', '/j/u-1/disk'),         # trailing slashes
    ('/i/u-1/disk', '/i/u-1', '/i/u-1', '/i/u-1/disk'),           # shared storage: the same directory
    ('/srv/volumes/data.img', '/i/u-1', '/j/u-1', '/srv/volumes/data.img'),
    ('/i/_base/abc123', '/i/u-1', '/j/u-1', '/i/_base/abc123'),   # instances_path, not the instance dir
    ('/i/u-10/disk', '/i/u-1', '/j/u-1', '/i/u-10/disk'),         # a sibling whose name starts alike
    ('/i/u-1.disk', '/i/u-1', '/j/u-1', '/i/u-1.disk'),
    ('/x/i/u-1/disk', '/i/u-1', '/j/u-1', '/x/i/u-1/disk'),       # the dir elsewhere in the path
])
def test_disk_paths(path, source_dir, dest_dir, moved):
    assert moved_disk(path, source_dir, dest_dir).source_file == moved


def test_a_disk_without_a_source_stays_without_one():
    devices = ("<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>" + disk('/i/u-1/disk'))
    domain = Domain.from_xml(xml_for_destination(domain_xml(devices), '/i/u-1', '/j/u-1', 'hostB'))
    assert [d.source_file for d in domain.disks] == [None, '/j/u-1/disk']


@pytest.mark.parametrize('device, path', [
    ("<serial type='file'><source path='/i/u-1/console.log'/><target port='0'/></serial>", '/j/u-1/console.log'),
    ("<serial type='file'><source path='/var/log/x.log'/><target port='0'/></serial>", '/var/log/x.log'),
    ("<serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>", '/dev/pts/3'),
    ("<serial type='pty'><target port='0'/></serial>", None),
])
def test_serial_paths(device, path):
    domain = Domain.from_xml(xml_for_destination(domain_xml(device), '/i/u-1', '/j/u-1', 'hostB'))
    assert domain.serials[0].source_path == path


@pytest.mark.parametrize('device, path', [
    ("<console type='file'><source path='/i/u-1/console.log'/><target type='serial' port='0'/></console>",
     '/j/u-1/console.log'),
    ("<console type='file'><source path='/i/other/console.log'/><target type='serial' port='0'/></console>",
     '/i/other/console.log'),
    ("<console type='pty'><target type='serial' port='0'/></console>", None),
])
def test_console_paths(device, path):
    domain = Domain.from_xml(xml_for_destination(domain_xml(device), '/i/u-1', '/j/u-1', 'hostB'))
    assert domain.consoles[0].source_path == path


def channel(kind, source=''):
    return ("<channel type='%s'>%s<target type='virtio' name='org.example.0'/>"
            "<address type='virtio-serial' controller='0' bus='0' port='1'/></channel>" % (kind, source))


@pytest.mark.parametrize('device, path, mode', [
    # a socket libvirt chose for the guest agent: the destination chooses its own
    (channel('unix', "<source mode='bind' path='%s'/>" % AGENT_SOCKET), None, None),
    (channel('unix', "<source mode='connect' path='/run/elsewhere.sock'/>"), None, None),
    # a socket in the instance directory moves with it
    (channel('unix', "<source mode='bind' path='/i/u-1/agent.sock'/>"), '/j/u-1/agent.sock', 'bind'),
    # no socket: stays so
    (channel('unix'), None, None),
    # not a socket: kept as it is
    (channel('file', "<source path='/var/log/chan.log'/>"), '/var/log/chan.log', None),
    (channel('pty', "<source path='/dev/pts/4'/>"), '/dev/pts/4', None),
    (channel('spicevmc'), None, None),
])
def test_channel_sockets(device, path, mode):
    domain = Domain.from_xml(xml_for_destination(domain_xml(device), '/i/u-1', '/j/u-1', 'hostB'))
    [moved] = domain.channels
    assert (moved.source_path, moved.source_mode) == (path, mode)
    assert moved.target_name == 'org.example.0'
    assert addresses(domain.to_xml()) == [('channel', [('bus', '0'), ('controller', '0'), ('port', '1'),
                                                       ('type', 'virtio-serial')])]


def test_shared_storage_socket_in_the_instance_dir_is_left_to_libvirt():
    """Pinned as it is: with one directory for both hosts, a socket there
    cannot be told from one libvirt chose, and both QEMUs run during the
    move: the destination's binds one of its own choosing."""
    device = channel('unix', "<source mode='bind' path='/i/u-1/agent.sock'/>")
    domain = Domain.from_xml(xml_for_destination(domain_xml(device), '/i/u-1', '/i/u-1', 'hostB'))
    assert domain.channels[0].source_path is None


def test_metadata_host_replaced_and_a_foreign_domain_gets_none():
    ours = Domain.from_xml(xml_for_destination(domain_xml(disk('/i/u-1/disk')), '/i/u-1', '/j/u-1', 'hostB'))
    assert ours.instance.host == 'hostB' and ours.instance.name == 'x'
    foreign = xml_for_destination(domain_xml(disk('/i/u-1/disk'), metadata=False), '/i/u-1', '/j/u-1', 'hostB')
    assert Domain.from_xml(foreign).instance is None and 'hostB' not in foreign


# -- disk_targets, cpu_xml ------------------------------------------------------------------------------------
def test_disk_targets_of_our_guest():
    assert disk_targets(golden('live-migratable-in.xml')) == [
        {'dev': 'vda', 'path': SOURCE_DIR + '/disk', 'readonly': False, 'format': 'qcow2'},
        {'dev': 'vdb', 'path': SOURCE_DIR + '/disk.local', 'readonly': False, 'format': 'raw'},
        {'dev': 'hdd', 'path': SOURCE_DIR + '/disk.config', 'readonly': True, 'format': 'raw'},
    ]


def test_disk_targets_skip_an_empty_drive_and_default_to_raw():
    devices = ("<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
               "<disk type='file' device='disk'><source file='/i/u-1/data'/><target dev='vdc' bus='virtio'/></disk>")
    assert disk_targets(domain_xml(devices)) == [{'dev': 'vdc', 'path': '/i/u-1/data', 'readonly': False,
                                                  'format': 'raw'}]


def test_cpu_xml_of_our_guest():
    text = cpu_xml(golden('live-migratable-in.xml'))
    assert text == '<cpu mode="custom" match="exact" check="none"><model fallback="forbid">qemu64</model></cpu>'
    assert text == cpu_xml(xml_for_destination(golden('live-migratable-in.xml'), SOURCE_DIR, DEST_DIR, 'hostB'))


def test_cpu_xml_keeps_features_and_is_empty_without_a_cpu():
    xml = ("<domain type='kvm'><name>x</name><cpu mode='custom' match='exact'><model>Haswell</model>"
           "<feature policy='disable' name='hle'/></cpu><devices/></domain>")
    assert cpu_xml(xml) == ('<cpu mode="custom" match="exact"><model>Haswell</model>'
                            '<feature policy="disable" name="hle"/></cpu>')
    assert cpu_xml(domain_xml('')) == ''


def test_the_source_daemons_dynamic_security_label_is_dropped():
    """A guest that came in from another daemon carries libvirt's own
    ``<seclabel type='dynamic' model='dac'>``; a qemu:///session destination
    has no DAC driver and refuses it, so the destination applies its own."""
    source = ("<domain type='qemu'><name>x</name><uuid>0b7dd6a9-1f6e-4b5e-9d0a-7d2b8f1f2a11</uuid>"
              "<devices/><seclabel type='dynamic' model='dac' relabel='yes'/>"
              "<seclabel type='static' model='selinux' relabel='no'><label>system_u:x</label></seclabel></domain>")
    out = xml_for_destination(source, '/a/0b7d', '/b/0b7d', 'hostB')
    assert "model='dac'" not in out and 'model="dac"' not in out
    assert 'selinux' in out and 'system_u:x' in out          # a label somebody set on purpose is kept


def test_the_sources_backing_chain_is_dropped():
    """A guest that came in by migration has its backing chain in its XML,
    naming the source's image cache; the destination's overlay names its own."""
    source = ("<domain type='qemu'><name>x</name><uuid>0b7dd6a9-1f6e-4b5e-9d0a-7d2b8f1f2a11</uuid><devices>"
              "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
              "<source file='/a/0b7d/disk'/><backingStore type='file'><format type='qcow2'/>"
              "<source file='/a/_base/abc'/><backingStore/></backingStore><target dev='vda' bus='virtio'/></disk>"
              "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/a/0b7d/disk.local'/>"
              "<backingStore/><target dev='vdb' bus='virtio'/></disk></devices></domain>")
    out = xml_for_destination(source, '/a/0b7d', '/b/0b7d', 'hostB')
    assert '/a/_base/abc' not in out and "file='/b/0b7d/disk'" in out.replace('"', "'")
    disks = Domain.from_xml(out).disks
    assert [d.node.find('backingStore') is None for d in disks] == [True, False]   # the empty one is kept
