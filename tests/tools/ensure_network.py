"""Define and start an isolated libvirt network (no <forward>: nothing leaves
the machine) for the demo and the tests.

Usage: ensure_network.py NAME BRIDGE [ADDRESS/PREFIX]

With an address (e.g. 192.168.233.1/24) the network also gets that address on
its bridge and a libvirt DHCP range in the same subnet, so guests lease an
address that ``virsh net-dhcp-leases`` reports; the address stays inside this
machine."""

import ipaddress
import sys

import libvirt
from lxml import etree


def network_xml(name, bridge, address=None):
    root = etree.Element('network')
    etree.SubElement(root, 'name').text = name
    etree.SubElement(root, 'bridge', name=bridge, stp='off')
    if address:
        iface = ipaddress.ip_interface(address)
        hosts = list(iface.network.hosts())
        ip = etree.SubElement(root, 'ip', address=str(iface.ip), netmask=str(iface.network.netmask))
        dhcp = etree.SubElement(ip, 'dhcp')
        etree.SubElement(dhcp, 'range', start=str(hosts[len(hosts) // 2]), end=str(hosts[-1]))
    return etree.tostring(root, encoding='unicode')


def main(name, bridge, address=None, uri='qemu:///system'):
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open(uri)
    try:
        try:
            net = conn.networkLookupByName(name)
        except libvirt.libvirtError:
            net = conn.networkDefineXML(network_xml(name, bridge, address))
        if not net.isActive():
            net.create()
        print('setup: isolated libvirt network %s is active' % name)
    finally:
        conn.close()


if __name__ == '__main__':
    main(*sys.argv[1:4])
