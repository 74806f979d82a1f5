"""Define and start an isolated libvirt network (no <forward>: nothing leaves
the machine) for the demo and the tests. Usage: ensure_network.py NAME BRIDGE"""

import sys

import libvirt
from lxml import etree


def main(name, bridge, uri='qemu:///system'):
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(uri)
    try:
        try:
            net = conn.networkLookupByName(name)
        except libvirt.libvirtError:
            root = etree.Element('network')
            etree.SubElement(root, 'name').text = name
            etree.SubElement(root, 'bridge', name=bridge, stp='off')
            net = conn.networkDefineXML(etree.tostring(root, encoding='unicode'))
        if not net.isActive():
            net.create()
        print('setup: isolated libvirt network %s is active' % name)
    finally:
        conn.close()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
