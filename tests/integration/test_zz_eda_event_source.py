"""The EDA event source against the real libvirtd, with an asyncio queue
(ansible-rulebook itself is not needed): lifecycle events arrive, a
`virsh destroy` is reported as stopped/destroyed within 2 s, and the source
reconnects after libvirtd restarts. Marked serial: restarting libvirtd would
break tests running beside it."""

import asyncio
import importlib.util
import os
import signal
import subprocess
import time
import uuid

import libvirt
import pytest

SOURCE = os.path.join(os.path.dirname(__file__), '..', '..', 'extensions', 'eda', 'plugins', 'event_source',
                      'libvirt_events.py')
pytestmark = pytest.mark.serial


def load_source():
    spec = importlib.util.spec_from_file_location('libvirt_events', SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transient_domain(conn, name, virt_type):
    """A diskless transient domain: it starts at once and sits in the firmware."""
    xml = ("<domain type='%s'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>" % (virt_type, name, uuid.uuid4()))
    return conn.createXML(xml, 0)


async def next_event(queue, match, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        item = await asyncio.wait_for(queue.get(), max(0.1, deadline - time.monotonic()))
        if match(item):
            return item, time.monotonic()


def virsh_destroy(uuid_string):
    subprocess.run(['virsh', '-q', '-c', 'qemu:///system', 'destroy', uuid_string], check=True,
                   stdout=subprocess.DEVNULL)


def restart_libvirtd():
    # host A's system daemon only (its pid file): host B's session daemon and
    # host C's daemon (tests/tools/shared_host.sh) stay up
    with open('/run/libvirtd.pid') as handle:
        pid = int(handle.read().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and os.path.exists('/proc/%d' % pid):
        time.sleep(0.1)
    subprocess.run(['libvirtd', '-d'], check=True)
    while time.monotonic() < deadline:
        try:
            libvirt.open('qemu:///system').close()
            return
        except libvirt.libvirtError:
            time.sleep(0.1)
    raise AssertionError('libvirtd did not come back')


def test_lifecycle_events_and_reconnect(prefix, virt_type):
    source = load_source()

    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(source.main(queue, {'uri': 'qemu:///system', 'host': 'hv-test',
                                                         'reconnect_delay': 0.5}))
        try:
            await next_event(queue, lambda e: e['event'] == 'connected')
            conn = await asyncio.get_running_loop().run_in_executor(None, libvirt.open, 'qemu:///system')
            dom = transient_domain(conn, prefix + '-eda', virt_type)
            started, _seen = await next_event(
                queue, lambda e: e.get('uuid') == dom.UUIDString() and e['event'] == 'started')
            assert started['event'] == 'started' and started['detail'] == 'booted'
            assert started['name'] == prefix + '-eda' and started['host'] == 'hv-test'

            # `virsh destroy` returns once QEMU is gone (about 2 s under TCG here);
            # the event must be on the queue within 2 s of that
            await asyncio.get_running_loop().run_in_executor(None, virsh_destroy, dom.UUIDString())
            destroyed_at = time.monotonic()
            stopped, seen_at = await next_event(
                queue, lambda e: e.get('uuid') == dom.UUIDString() and e['event'] == 'stopped')
            assert stopped['detail'] == 'destroyed'
            assert seen_at - destroyed_at < 2.0, 'stopped event %.2fs after virsh destroy' % (seen_at - destroyed_at)
            conn.close()

            await asyncio.get_running_loop().run_in_executor(None, restart_libvirtd)
            await next_event(queue, lambda e: e['event'] == 'connected', timeout=30)
            conn = libvirt.open('qemu:///system')
            dom = transient_domain(conn, prefix + '-eda2', virt_type)
            await next_event(queue, lambda e: e.get('uuid') == dom.UUIDString() and e['event'] == 'started')
            dom.destroy()
            again, _seen = await next_event(queue, lambda e: e.get('uuid') == dom.UUIDString() and e['event'] == 'stopped')
            assert again['detail'] == 'destroyed'
            conn.close()
        finally:
            task.cancel()

    asyncio.run(scenario())
