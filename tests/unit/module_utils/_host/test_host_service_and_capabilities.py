# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's service state file (enabled unless set, one per compute_host
on a shared instances_path, crash-safe like a record), the reason it takes,
and the capabilities XML read into the CPU and virt types."""

import json
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput, RecordCorrupt
from ansible_collections.novalite.compute.plugins.module_utils._host.module import validate_reason
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.capabilities_xml import (
    host_cpu,
    host_cpu_xml,
    required_features,
    virt_types,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.host_service import HostServiceStore
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths

CAPABILITIES = '''<capabilities>
  <host><uuid>u</uuid>
    <cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>
      <topology sockets='1' dies='1' cores='4' threads='2'/>
      <feature name='vmx'/><feature name='avx2'/><feature name='aes'/>
    </cpu>
  </host>
  <guest><os_type>hvm</os_type>
    <arch name='i686'><domain type='qemu'/></arch>
  </guest>
  <guest><os_type>hvm</os_type>
    <arch name='x86_64'><wordsize>64</wordsize><domain type='qemu'/><domain type='kvm'/></arch>
  </guest>
</capabilities>'''


def test_the_host_cpu_and_virt_types_of_its_architecture():
    cpu = host_cpu(CAPABILITIES)
    assert cpu == {'arch': 'x86_64', 'model': 'Skylake-Client', 'vendor': 'Intel', 'features': ['aes', 'avx2', 'vmx'],
                   'sockets': 1, 'cores': 4, 'threads': 2}
    assert virt_types(CAPABILITIES, 'x86_64') == ['kvm', 'qemu']
    assert virt_types(CAPABILITIES, 'i686') == ['qemu']
    assert virt_types(CAPABILITIES, 'aarch64') == []


def test_capabilities_without_a_host_cpu():
    assert host_cpu('<capabilities><host/></capabilities>')['features'] == []
    assert host_cpu_xml('<capabilities><host/></capabilities>') is None


def test_the_host_cpu_element_for_a_baseline_and_the_features_a_baseline_requires():
    cpu_xml = host_cpu_xml(CAPABILITIES)
    assert cpu_xml.startswith('<cpu>') and '<model>Skylake-Client</model>' in cpu_xml
    assert required_features(cpu_xml) == ['aes', 'avx2', 'vmx']      # no policy: required
    expanded = ("<cpu mode='custom' match='exact'><model fallback='forbid'>kvm64</model>"
                "<feature policy='require' name='fpu'/><feature policy='disable' name='svm'/>"
                "<feature policy='force' name='sse2'/><feature policy='optional' name='pcid'/><feature/></cpu>")
    assert required_features(expanded) == ['fpu', 'sse2']


def test_a_host_is_enabled_until_disabled_and_each_host_keeps_its_own(tmp_path):
    paths = InstancePaths(str(tmp_path / 'shared'))
    one, two = HostServiceStore(paths, 'hv1'), HostServiceStore(paths, 'hv2')
    assert one.load() == {'compute_host': 'hv1', 'enabled': True, 'disabled_reason': None, 'updated_at': None}
    saved = one.save(False, 'firmware')
    assert (saved['enabled'], saved['disabled_reason']) == (False, 'firmware') and saved['updated_at']
    assert one.load()['enabled'] is False and two.load()['enabled'] is True
    assert oct(os.stat(paths.host_service('hv1')).st_mode & 0o777) == '0o600'
    assert not [f for f in os.listdir(paths.hosts_dir) if f.startswith('.tmp-')]
    enabled = one.save(True, 'ignored when enabling')
    assert enabled['disabled_reason'] is None and one.load()['enabled'] is True


def test_a_service_file_of_another_host_or_torn_is_refused(tmp_path):
    paths = InstancePaths(str(tmp_path))
    store = HostServiceStore(paths, 'hv1')
    store.save(False, 'x')
    with open(paths.host_service('hv1'), 'w') as handle:
        json.dump({'compute_host': 'hv9', 'enabled': True}, handle)
    with pytest.raises(RecordCorrupt):
        store.load()
    with open(paths.host_service('hv1'), 'w') as handle:
        handle.write('{"compute_host": "hv1", ')
    with pytest.raises(RecordCorrupt):
        store.load()


@pytest.mark.parametrize('enabled, reason, problem', [
    (False, 'kernel update', None),
    (False, None, None),
    (True, None, None),
    (True, 'x', 'only given with enabled=false'),
    (False, '', 'not blank'),
    (False, ' \t', 'control character'),
    (False, 'x' * 256, '1 to 255'),
    (False, 'x' * 255, None),
    (False, 'a\nb', 'control character'),
    (False, 'nul\x00', 'XML cannot hold'),
], ids=['reason', 'no-reason', 'enable', 'reason-when-enabling', 'empty', 'blank-tab', 'too-long', 'longest',
        'newline', 'nul'])
def test_the_disabled_reason(enabled, reason, problem):
    if problem is None:
        assert validate_reason(enabled, reason) == reason
    else:
        with pytest.raises(InvalidInput, match=problem):
            validate_reason(enabled, reason)
