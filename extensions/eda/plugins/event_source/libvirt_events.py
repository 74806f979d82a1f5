# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_events: an Event-Driven Ansible event source that puts libvirt
domain lifecycle events on the rulebook's queue (what Nova's libvirt driver
feeds to handle_lifecycle_event).

Arguments:
    uri:              libvirt URI (default qemu:///system)
    host:             the compute_host name to put in events (default: this machine's host name)
    reconnect_delay:  seconds between reconnection attempts (default 2)

Each event is a dict: ``uuid``, ``name``, ``event`` (defined, undefined,
started, suspended, resumed, stopped, shutdown, pmsuspended, crashed),
``detail`` (for example destroyed, shutdown, crashed for ``stopped``),
``host`` and ``uri``. When the connection is (re)established the source puts
``{"event": "connected", "host": ..., "uri": ...}``, so a rulebook can run a
full sync after libvirtd restarted. The connection uses libvirt keepalives
and is reopened whenever libvirt closes it.

Example:
    - name: Sync power states from libvirt events
      hosts: all
      sources:
        - novalite.compute.libvirt_events:
            uri: qemu:///system
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import libvirt

_EVENT_LOOP = {'started': False}
_EVENT_LOOP_LOCK = threading.Lock()

EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: 'defined',
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: 'undefined',
    libvirt.VIR_DOMAIN_EVENT_STARTED: 'started',
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: 'suspended',
    libvirt.VIR_DOMAIN_EVENT_RESUMED: 'resumed',
    libvirt.VIR_DOMAIN_EVENT_STOPPED: 'stopped',
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: 'shutdown',
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: 'pmsuspended',
    libvirt.VIR_DOMAIN_EVENT_CRASHED: 'crashed',
}

DETAILS = {
    'stopped': {
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: 'shutdown',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: 'destroyed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: 'crashed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: 'migrated',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: 'saved',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: 'failed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: 'from_snapshot',
    },
    'started': {
        libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED: 'booted',
        libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED: 'migrated',
        libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED: 'restored',
        libvirt.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT: 'from_snapshot',
        libvirt.VIR_DOMAIN_EVENT_STARTED_WAKEUP: 'wakeup',
    },
    'suspended': {
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED: 'paused',
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR: 'ioerror',
    },
}


def _ensure_event_loop():
    """libvirt delivers events only while its event loop runs; register the
    default implementation once and run it in a daemon thread."""
    with _EVENT_LOOP_LOCK:
        if _EVENT_LOOP['started']:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()
        thread = threading.Thread(target=run, name='libvirt-event-loop', daemon=True)
        thread.start()
        _EVENT_LOOP['started'] = True


def lifecycle_event(dom, event, detail, host, uri):
    """The queue entry for one libvirt lifecycle callback."""
    name = EVENTS.get(event, 'unknown')
    return {'uuid': dom.UUIDString(), 'name': dom.name(), 'event': name,
            'detail': DETAILS.get(name, {}).get(detail, str(detail)), 'host': host, 'uri': uri,
            'time': time.time()}


async def main(queue, args):
    uri = args.get('uri') or 'qemu:///system'
    host = args.get('host') or socket.gethostname()
    delay = float(args.get('reconnect_delay', 2))
    loop = asyncio.get_running_loop()
    _ensure_event_loop()
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    closed = asyncio.Event()

    def on_lifecycle(_conn, dom, event, detail, _opaque):
        loop.call_soon_threadsafe(queue.put_nowait, lifecycle_event(dom, event, detail, host, uri))

    def on_close(_conn, _reason, _opaque):
        loop.call_soon_threadsafe(closed.set)

    while True:
        try:
            conn = await loop.run_in_executor(None, libvirt.open, uri)
        except libvirt.libvirtError:
            await asyncio.sleep(delay)
            continue
        closed.clear()
        try:
            conn.registerCloseCallback(on_close, None)
            callback_id = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle,
                                                      None)
            conn.setKeepAlive(2, 3)
        except libvirt.libvirtError:
            await asyncio.sleep(delay)
            continue
        await queue.put({'event': 'connected', 'host': host, 'uri': uri, 'time': time.time()})
        await closed.wait()
        for undo in (lambda: conn.domainEventDeregisterAny(callback_id), conn.close):
            try:
                undo()
            except libvirt.libvirtError:
                pass
        await asyncio.sleep(delay)


if __name__ == '__main__':
    class PrintQueue(asyncio.Queue):
        def put_nowait(self, item):
            print(item, flush=True)

        async def put(self, item):
            print(item, flush=True)

    asyncio.run(main(PrintQueue(), {}))
