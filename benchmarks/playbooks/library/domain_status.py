# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The baseline of benchmarks/reconcile_bench.py: what a per-domain status
loop costs (community.libvirt's ``virt: command=status``, one task per
domain: open the connection, look the domain up by name, read its state).
community.libvirt is not installable offline here, so this is the same work
written out; it is not part of the collection."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(name=dict(type='str', required=True),
                                              uri=dict(type='str', default='qemu:///system')),
                           supports_check_mode=True)
    import libvirt
    conn = libvirt.open(module.params['uri'])
    try:
        state = conn.lookupByName(module.params['name']).info()[0]
    finally:
        conn.close()
    module.exit_json(changed=False, status={1: 'running', 3: 'paused', 5: 'shutdown'}.get(state, str(state)))


if __name__ == '__main__':
    main()
