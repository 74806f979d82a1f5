# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared fakes of the engines' unit tests, and the one place engines
are built for them.

* ``FakeHost`` / ``FakeGuest`` — a libvirt hypervisor in memory, with the
  interface of ``_libvirt.host.Host`` and ``_libvirt.guest.Guest`` and
  their behaviour: lookups by uuid that refuse a domain without our metadata
  for this host (``DomainNotManaged``), a vanished domain raising
  ``DomainNotFound``, libvirt's refusals (starting a running domain,
  shutting down one that is off) as ``HypervisorError`` with libvirt's error
  code, a power state machine (ACPI shutdown that completes after N looks
  or never, a new domain id on every start, a domain undefined while it
  runs staying transient until destroyed), the persistent and the live XML.
  ``host.fail('define', exc)`` makes a call fail.
* ``FakeClock`` / ``install_clock`` — virtual time for the power waits;
  ``install_lock_clock`` — for the instance and name lock waits.
* ``FakeImageCache`` — ImageCache's interface; a "fetch" writes a small
  real qcow2 (``qemu-img create``) into the real ``_base``.
* ``hypervisor()`` — the real ``Hypervisor`` context on a tmp
  instances_path with the REAL InstancePaths, RecordStore and
  MigrationStore (the file layer is cheap and is what the engines' outcomes
  are made of), the fake host and the fake image cache.
* ``spawner()``, ``lifecycle()``, ... — the engines, built only here.
* ``local_transfer()`` — a move's copy through the local receiver process
  instead of SSH (the same receiver, run here).
* ``argument_spec()`` — what a module's ``main()`` hands AnsibleModule;
  ``instance_module()`` — libvirt_instance's module object on a
  ``hypervisor()``, with a ``FakeAnsibleModule`` whose params are validated
  against that real argument spec (defaults filled in as Ansible does).
"""

from __future__ import annotations

import ast
import inspect
import json
import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    HypervisorError,
    ImageUnacceptable,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._instance import module as _instance_module
from ansible_collections.novalite.compute.plugins.module_utils._instance.lifecycle import Lifecycle
from ansible_collections.novalite.compute.plugins.module_utils._instance.spawn import Spawner
from ansible_collections.novalite.compute.plugins.module_utils._libvirt import power as _power
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain, InstanceMetadata
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.host import Host
from ansible_collections.novalite.compute.plugins.module_utils._migrate import source_move as _source_move
from ansible_collections.novalite.compute.plugins.module_utils._migrate.dest import MigrationDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import local_receiver
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._reboot import reboot as _reboot
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import Reconciler
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import CachedImage, cache_name
from ansible_collections.novalite.compute.plugins.module_utils._storage.rebuild import FileRebuilder
from ansible_collections.novalite.compute.plugins.module_utils._store import locking as _locking
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore
from ansible_collections.novalite.compute.plugins.modules import libvirt_instance as _libvirt_instance

# libvirt's error numbers (virErrorNumber, a stable ABI), as libvirt_errors reports them
VIR_ERR_OPERATION_FAILED = 9
VIR_ERR_NO_DOMAIN = 42
VIR_ERR_NO_NETWORK = 43
VIR_ERR_OPERATION_INVALID = 55

R, OFF, PAUSED, CRASHED, NOSTATE = (PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.PAUSED,
                                    PowerState.CRASHED, PowerState.NOSTATE)

FLAVOR = {'name': 'm1.tiny', 'vcpus': 1, 'memory_mb': 64, 'root_gb': 1, 'ephemeral_gb': 0, 'swap_mb': 0}
IMAGE = {'url': 'file:///images/tiny.qcow2'}
IMAGE_VIRTUAL_SIZE = 1024 * 1024


def libvirt_failure(what, message, code):
    """The error ``_libvirt.libvirt_errors`` raises for a libvirtError of ``code``."""
    text = '%s failed: %s (libvirt error code %s)' % (what, message, code)
    if code == VIR_ERR_NO_DOMAIN:
        return DomainNotFound(text, code=code)
    return HypervisorError(text, code=code)


# -- the hypervisor ---------------------------------------------------------------------
class FakeGuest(object):
    """One domain of a FakeHost; the object is the domain (lookups return
    it), and once the domain is gone every call raises DomainNotFound.

    ``acpi``: what the guest does with the power button: 'off' (powers off
    after ``acpi_polls`` more looks at its state), 'reboot' (restarts
    itself: a new domain id, still running) or 'ignore'."""

    def __init__(self, host, xml, acpi='off', acpi_polls=0, launch_state=R):
        self.host = host
        self.persistent_xml = xml
        self.live_xml = None
        self.persistent = True
        self.state = OFF
        self._id = -1
        self.acpi = acpi
        self.acpi_polls = acpi_polls
        self.launch_state = launch_state        # what a start leads to (paused: a guest that never runs)
        self._off_in = None         # looks left until a pressed power button takes effect
        self.calls = []
        self.boots = 0
        domain = Domain.from_xml(xml)
        self._uuid, self._name = domain.uuid, domain.name

    # -- identity -------------------------------------------------------------------
    @property
    def uuid(self):
        return self._uuid

    @property
    def name(self):
        return self._name

    @property
    def gone(self):
        return self.host.domains.get(self._uuid) is not self

    def _alive(self, what):
        if self.gone:
            raise libvirt_failure(what % self._name, "Domain not found: no domain with matching uuid '%s'"
                                  % self._uuid, VIR_ERR_NO_DOMAIN)
        self.host.check_failure(what.split(' ')[0], self)

    @property
    def id(self):
        self._alive('reading the id of domain %s')
        return self._id

    # -- state ----------------------------------------------------------------------
    def seen(self, state=None):
        return self

    def power_state(self):
        self._alive('reading the state of domain %s')
        if self._off_in is not None:
            if self._off_in <= 0:
                self._off_in = None
                self._power_off()
            else:
                self._off_in -= 1
        return self.state

    def is_running(self):
        return self.power_state() == R

    def xml(self, inactive=False):
        self._alive('reading the XML of domain %s')
        if self.state in (R, PAUSED) and not inactive or not self.persistent:
            return self.live_xml
        return self.persistent_xml

    def config(self, inactive=False):
        return Domain.from_xml(self.xml(inactive=inactive))

    def managed_host(self):
        meta = self.config(inactive=True).instance
        if meta is None:
            return None
        return meta.host or ''

    def is_persistent(self):
        self._alive('reading whether domain %s is persistent')
        return self.persistent

    # -- acting ---------------------------------------------------------------------
    def launch(self, pause=False):
        self._alive('starting domain %s')
        self.calls.append('launch')
        if self.state in (R, PAUSED):
            raise libvirt_failure('starting domain %s' % self._name, 'Requested operation is not valid: '
                                  'domain is already running', VIR_ERR_OPERATION_INVALID)
        self._boot(PAUSED if pause else self.launch_state)

    def _boot(self, state):
        self.state = state
        self._id = self.host.next_id()
        self.live_xml = self.persistent_xml
        self.boots += 1

    def _power_off(self):
        self.state, self._id = OFF, -1
        if not self.persistent:
            del self.host.domains[self._uuid]

    def shutdown(self):
        self._alive('sending ACPI shutdown to domain %s')
        self.calls.append('shutdown')
        if self.state not in (R, PAUSED):
            raise libvirt_failure('sending ACPI shutdown to domain %s' % self._name,
                                  'Requested operation is not valid: domain is not running',
                                  VIR_ERR_OPERATION_INVALID)
        if self.acpi == 'off' and self._off_in is None:
            self._off_in = self.acpi_polls
        elif self.acpi == 'reboot':
            self._boot(R)

    def destroy(self):
        """As Guest.destroy: a domain that is already off is not an error."""
        self._alive('destroying domain %s')
        self.calls.append('destroy')
        self._off_in = None
        if self.state in (R, PAUSED):
            self._power_off()

    def undefine(self, keep_nvram=False):
        self._alive('undefining domain %s')
        self.calls.append('undefine keep_nvram=%s' % keep_nvram)
        if self.state in (R, PAUSED):
            self.persistent = False         # transient until destroyed, as libvirt does
        else:
            del self.host.domains[self._uuid]

    def set_metadata(self, xml, key, uri, live):
        self._alive('updating the metadata of domain %s')
        self.calls.append('set_metadata live=%s' % live)
        if live and self.state not in (R, PAUSED):
            raise libvirt_failure('updating the metadata of domain %s' % self._name,
                                  'Requested operation is not valid: domain is not running',
                                  VIR_ERR_OPERATION_INVALID)
        self.persistent_xml = _with_metadata(self.persistent_xml, xml)
        if live:
            self.live_xml = _with_metadata(self.live_xml, xml)

    # -- what happens behind our back (for tests) -----------------------------------------
    def crash(self):
        self.state, self._id, self._off_in = CRASHED, -1, None

    def power_off_inside(self):
        """The guest powered itself off."""
        self._power_off()

    def start_behind_our_back(self):
        self._boot(R)


def _with_metadata(domain_xml, metadata_xml):
    domain = Domain.from_xml(domain_xml)
    domain.set_instance(InstanceMetadata.from_xml(metadata_xml))
    return domain.to_xml()


class FakeHost(object):
    """A libvirt connection in memory, with Host's interface.

    ``this_host``: as Host's, a domain looked up by uuid must carry our
    metadata naming this host (None: no check). ``networks``: {name: active}.
    ``acpi`` / ``acpi_polls`` / ``launch_state``: how the guests defined from
    now on answer the power button and a start (see FakeGuest)."""

    def __init__(self, this_host='hv1', networks=None, bridges=(), virt_types=('qemu', 'kvm'),
                 free_memory_mb=8192, hostname='fakehost', acpi='off', acpi_polls=0, launch_state=R):
        self.this_host = this_host
        self.domains = {}
        self.networks = dict(networks if networks is not None else {'default': True})
        self.bridges = set(bridges)
        self.virt_types = tuple(virt_types)
        self.memory_mb = free_memory_mb
        self.name = hostname
        self.acpi = acpi
        self.acpi_polls = acpi_polls
        self.launch_state = launch_state
        self.defined = []
        self.failures = {}
        self.opened = 0
        self._last_id = 0

    def next_id(self):
        self._last_id += 1
        return self._last_id

    # -- failure injection -------------------------------------------------------------
    def fail(self, call, exc=None, guest=None):
        """Make ``call`` ('define', 'starting', 'destroying', 'sending', 'undefining',
        'reading', 'updating', 'check_virt_type', ...; a guest call is named by
        the first word of what libvirt_errors says it does) raise ``exc``
        (default a HypervisorError) from now on, for ``guest`` only if given."""
        self.failures[call] = (exc or libvirt_failure(call, 'injected failure', VIR_ERR_OPERATION_FAILED), guest)

    def check_failure(self, call, guest=None):
        failure = self.failures.get(call)
        if failure is not None and failure[1] in (None, guest):
            raise failure[0]

    # -- connection -------------------------------------------------------------------
    def close(self):
        pass

    def __enter__(self):
        self.opened += 1
        return self

    def __exit__(self, *exc):
        self.close()

    # -- domains ----------------------------------------------------------------------
    def guest_by_uuid(self, uuid):
        guest = self.any_guest_by_uuid(uuid)
        if guest is not None:
            self.check_managed(guest)
        return guest

    def any_guest_by_uuid(self, uuid):
        self.check_failure('lookup')
        return self.domains.get(uuid)

    # The real rule, not a copy of it: our metadata naming this host.
    check_managed = Host.check_managed

    def guest_by_name(self, name):
        for guest in self.domains.values():
            if guest.name == name:
                return guest
        return None

    def define(self, xml):
        domain = Domain.from_xml(xml)
        existing = self.any_guest_by_uuid(domain.uuid)
        if existing is not None:
            self.check_managed(existing)
        self.check_failure('define')
        named = self.guest_by_name(domain.name)
        if named is not None and named.uuid != domain.uuid:
            raise libvirt_failure('defining the domain', "operation failed: domain '%s' already exists with uuid %s"
                                  % (domain.name, named.uuid), VIR_ERR_OPERATION_FAILED)
        if existing is not None and existing.name != domain.name:
            raise libvirt_failure('defining the domain', "operation failed: domain '%s' already exists with uuid %s"
                                  % (existing.name, existing.uuid), VIR_ERR_OPERATION_FAILED)
        self.defined.append(xml)
        if existing is not None:
            existing.persistent_xml = xml
            existing.persistent = True
            return existing
        guest = FakeGuest(self, xml, acpi=self.acpi, acpi_polls=self.acpi_polls, launch_state=self.launch_state)
        self.domains[guest.uuid] = guest
        return guest

    def list_guests(self):
        self.check_failure('list')
        return list(self.domains.values())

    def list_guests_seen(self):
        return self.list_guests()

    # -- host facts ---------------------------------------------------------------------
    def check_virt_type(self, virt_type, arch='x86_64'):
        self.check_failure('check_virt_type')
        if virt_type not in self.virt_types:
            raise libvirt_failure('checking that this host supports virt_type %s' % virt_type,
                                  'this function is not supported by the connection driver', 3)

    def check_network(self, network):
        if network not in self.networks:
            raise libvirt_failure('looking up libvirt network %s' % network,
                                  "Network not found: no network with matching name '%s'" % network,
                                  VIR_ERR_NO_NETWORK)
        if not self.networks[network]:
            raise HypervisorError('libvirt network %s is not active' % network)

    def check_bridge(self, bridge):
        if bridge not in self.bridges:
            raise HypervisorError('bridge %s does not exist on this host' % bridge)

    def free_memory_mb(self):
        return self.memory_mb

    def hostname(self):
        return self.name

    # -- domains that are not ours (for tests) --------------------------------------------
    def add_foreign(self, uuid, name, owner=None, running=True):
        """A domain without our metadata (``owner`` None) or with our
        metadata for another host."""
        domain = Domain(type='qemu', name=name, uuid=uuid, memory_kib=65536, vcpus=1, os_type='hvm')
        if owner is not None:
            domain.set_instance(InstanceMetadata(name=name, host=owner))
        guest = FakeGuest(self, domain.to_xml())
        self.domains[uuid] = guest
        if running:
            guest.start_behind_our_back()
        return guest


# -- time -------------------------------------------------------------------------------
class FakeClock(object):
    """A monotonic clock whose sleep only moves it forward."""

    def __init__(self, now=1000.0):
        self.now = now
        self.slept = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds
        self.slept += seconds


def _default_clock(monkeypatch, func, clock):
    """Make ``clock`` the default ``clock``/``sleep`` of ``func`` (its
    defaults were bound to the time module when it was defined)."""
    positional = [p.name for p in inspect.signature(func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    defaults = list(func.__defaults__ or ())
    names = positional[len(positional) - len(defaults):]
    wanted = {'clock': clock, 'sleep': clock.sleep}
    assert set(wanted) <= set(names), '%s no longer takes clock and sleep' % func.__name__
    monkeypatch.setattr(func, '__defaults__', tuple(wanted.get(name, value) for name, value in zip(names, defaults)))


def install_clock(monkeypatch, clock=None):
    """Every power wait (``wait_for``: wait_running, clean_power_off) and the
    soft reboot loop on ``clock`` (a new FakeClock unless given)."""
    clock = clock or FakeClock()
    _default_clock(monkeypatch, _power.wait_for, clock)
    _default_clock(monkeypatch, _reboot.soft_reboot, clock)
    return clock


def install_lock_clock(monkeypatch, clock=None):
    """Every wait for a busy lock (``file_lock``: ``RecordStore.lock`` and
    ``name_lock``) on ``clock`` (a new FakeClock unless given)."""
    clock = clock or FakeClock()
    _default_clock(monkeypatch, _locking.file_lock.__wrapped__, clock)     # under its contextmanager wrapper
    return clock


# -- images -------------------------------------------------------------------------------
class FakeImageCache(object):
    """ImageCache's interface (``get``, ``lookup``). A miss "fetches" by
    writing a small real image into ``_base`` (qcow2, raw when force_raw)
    with a sidecar, as a real entry has; a hit is served as is. Every call
    is logged in ``log`` (shared by the caches one factory made)."""

    def __init__(self, paths, force_raw=False, log=None, failure=None, virtual_size=IMAGE_VIRTUAL_SIZE, **fetch):
        self.paths = paths
        self.force_raw = force_raw
        self.fetch = fetch
        self.log = log if log is not None else []
        self.failure = failure
        self.virtual_size = virtual_size

    def lookup(self, image):
        path = self.paths.base_image(cache_name(image))
        return path if os.path.exists(path) else None

    def get(self, image, max_size=None, progress=None):
        name = cache_name(image)
        path = self.paths.base_image(name)
        self.paths.ensure_layout()
        fetched = not os.path.exists(path)
        self.log.append({'url': image['url'], 'force_raw': self.force_raw, 'max_size': max_size,
                         'fetched': fetched, 'root': self.paths.root})
        if self.failure is not None:
            raise self.failure
        if max_size and self.virtual_size > max_size:
            raise ImageUnacceptable('Image %s is %d bytes, larger than the flavor root disk (%d bytes)'
                                    % (image['url'], self.virtual_size, max_size))
        fmt = 'raw' if self.force_raw else 'qcow2'
        if fetched:
            _qemu_img.create(path, fmt, self.virtual_size)
            with open(path + '.json', 'w') as handle:
                json.dump({'url': image['url'], 'format': fmt, 'virtual_size': self.virtual_size}, handle)
            if progress is not None:
                progress(os.path.getsize(path), os.path.getsize(path))
        else:
            with open(path + '.json') as handle:
                fmt = json.load(handle)['format']
        return CachedImage(path, fmt, self.virtual_size, name, fetched=fetched)


class ImageCacheFactory(object):
    """What ``Hypervisor(image_cache=...)`` takes: called like ImageCache,
    returns FakeImageCaches sharing one ``log``; ``failure`` makes every
    ``get`` raise it."""

    def __init__(self, virtual_size=IMAGE_VIRTUAL_SIZE):
        self.log = []
        self.failure = None
        self.virtual_size = virtual_size

    def __call__(self, paths, force_raw=False, **fetch):
        return FakeImageCache(paths, force_raw=force_raw, log=self.log, failure=self.failure,
                              virtual_size=self.virtual_size, **fetch)


# -- the context and the engines ----------------------------------------------------------
def hypervisor(root, this_host='hv1', host=None, image_cache=None, fetch=None, force_raw=False, lock_timeout=2):
    """The real Hypervisor context on ``root`` (a tmp instances_path):
    real paths, record store and migration store; a FakeHost for
    ``this_host`` and an ImageCacheFactory unless given."""
    paths = InstancePaths(str(root))
    paths.ensure_layout()
    store = RecordStore(paths, lock_timeout=lock_timeout)
    return Hypervisor(host if host is not None else FakeHost(this_host=this_host), paths, store, this_host,
                      fetch=fetch, force_raw=force_raw,
                      image_cache=image_cache if image_cache is not None else ImageCacheFactory())


def spawner(hv):
    return Spawner(hv)


def lifecycle(hv):
    return Lifecycle(hv)


def rebooter(hv):
    return Rebooter(hv)


def rebuilder(hv):
    return FileRebuilder(hv)


def migration_source(hv):
    return MigrationSource(hv)


def migration_dest(hv):
    return MigrationDest(hv)


def reconciler(hv, resume=False, shutdown_timeout=60, wait_timeout=120):
    return Reconciler(hv, resume=resume, shutdown_timeout=shutdown_timeout, wait_timeout=wait_timeout)


# -- records and instances -------------------------------------------------------------------
def record(uuid, name='web1', host='hv1', **fields):
    """A new instance's record as libvirt_instance hands it to the Spawner."""
    data = {'uuid': uuid, 'name': name, 'host': host, 'vm_state': 'building', 'virt_type': 'qemu',
            'flavor': dict(FLAVOR), 'image': dict(IMAGE),
            'networks': [{'network': 'default', 'mac': None, 'model': 'virtio'}],
            'metadata': {}, 'config_drive': False}
    data.update(fields)
    return InstanceRecord(data)


def build(hv, uuid, power_on=True, **fields):
    """An instance built by the real Spawner on ``hv``: its record (as
    saved), with its disks, libvirt.xml and domain in place."""
    built = record(uuid, host=hv.this_host, **fields)
    spawner(hv).spawn(built, power_on=power_on, wait_timeout=5)
    return hv.store.load(uuid)


def channels(xml):
    """(type, target type, target name, source path) of each <channel> in ``xml``."""
    return [(c.type, c.target_type, c.target_name, c.source_path) for c in Domain.from_xml(xml).channels]


def forget_record_field(hv, uuid, field):
    """Rewrite ``uuid``'s saved record without ``field``, as a version that
    did not know the field wrote it."""
    path = hv.paths.record(uuid)
    with open(path) as handle:
        data = json.load(handle)
    del data[field]
    with open(path, 'w') as handle:
        json.dump(data, handle)


def events(store, uuid):
    """(action, event) of every action log line of ``uuid``."""
    return [(entry['action'], entry['event']) for entry in store.actions(uuid).entries()]


# -- moves ------------------------------------------------------------------------------------
class LocalTarget(object):
    """SshTarget's interface, reaching the destination instances_path on
    this machine: the real receiver runs as a local process instead of over
    ssh (as test_transfer does)."""

    def __init__(self, host, user=None, port=None, identity_file=None, python='python3', options=None):
        self.host = host

    @property
    def label(self):
        return '%s (local)' % self.host

    def receiver(self, root):
        return local_receiver(root)


def local_transfer(monkeypatch):
    """Moves between two tmp instances_paths copy through a local receiver."""
    monkeypatch.setattr(_source_move, 'SshTarget', LocalTarget)


def host_pair(root, source='hv1', dest='hv2'):
    """Two hypervisors, each with its own FakeHost and tmp instances_path
    (``root``/a and ``root``/b), for a move from the first to the second."""
    return (hypervisor(os.path.join(str(root), 'a'), this_host=source),
            hypervisor(os.path.join(str(root), 'b'), this_host=dest))


def start_move(source_hv, dest_hv, uuid, new_flavor=None):
    """The start step of a move of ``uuid`` from ``source_hv`` to ``dest_hv``
    (the same hypervisor for a same-host resize), as instance_migrate runs
    it. Returns the migration."""
    dest = {'ssh': {'host': dest_hv.this_host}}
    if dest_hv.paths.root != source_hv.paths.root:
        dest['instances_path'] = dest_hv.paths.root
    _changed, migration, _plan = migration_source(source_hv).start(
        source_hv.store.load(uuid), dest_hv.this_host, new_flavor, dest)
    return migration


# -- the programs sent to another host -------------------------------------------------
def imported_modules(source):
    """Every module name ``source`` imports (``import x``, ``from x import y``)."""
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    return imported


def fake_ssh_on_path(tmp_path, monkeypatch):
    """An ``ssh`` first on PATH that runs its remote command line the way
    sshd does: through a shell (``sh -c``), after the ``--`` and the host."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake_ssh = bin_dir / 'ssh'
    fake_ssh.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift 2\nexec sh -c "$1"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir) + os.pathsep + os.environ['PATH'])


# -- module objects -------------------------------------------------------------------------
class _Captured(Exception):
    pass


def argument_spec(module):
    """The keywords the ``main()`` of ``module`` (a module of plugins/modules)
    builds its AnsibleModule with: ``argument_spec``, ``supports_check_mode``..."""
    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise _Captured()
    real = module.AnsibleModule
    module.AnsibleModule = capture
    try:
        module.main()
    except _Captured:
        pass
    finally:
        module.AnsibleModule = real
    return seen


def module_params(module, **given):
    """``given`` validated against the real argument spec of ``module``, with
    its defaults filled in (what AnsibleModule.params would hold)."""
    result = ArgumentSpecValidator(argument_spec(module)['argument_spec']).validate(given)
    if result.error_messages:
        raise AssertionError('; '.join(result.error_messages))
    return result.validated_parameters


class FakeAnsibleModule(object):
    """What a module object uses of AnsibleModule: params, check_mode, _diff,
    warn() (the warnings are kept in ``warnings``)."""

    def __init__(self, params, check_mode=False, diff=False):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)


def instance_module(hv, monkeypatch, check_mode=False, diff=False, **given):
    """libvirt_instance's InstanceModule on ``hv`` (instances_path and
    compute_host are hv's), its params validated against the module's
    argument spec; ``.module`` is the FakeAnsibleModule."""
    params = module_params(_libvirt_instance, instances_path=hv.paths.root, compute_host=hv.this_host, **given)

    class OnThisHypervisor(object):
        @staticmethod
        def from_params(_params):
            return hv
    monkeypatch.setattr(_instance_module, 'Hypervisor', OnThisHypervisor)
    return _instance_module.InstanceModule(FakeAnsibleModule(params, check_mode=check_mode, diff=diff))
