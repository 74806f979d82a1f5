# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hypervisor context: what every engine needs about the host it runs
on (the libvirt connection, the instance paths, the record and migration
stores, this host's name, how images are fetched), built once per module
run from the shared options (uri, instances_path, compute_host,
lock_timeout, the fetch options, force_raw_images; see ``_module.argspec``)
and handed to every engine: ``Spawner(hv)``, ``Lifecycle(hv)``,
``Rebooter(hv)``, ``MigrationSource(hv)``, ``MigrationDest(hv)``,
``FileRebuilder(hv)``, ``Reconciler(hv, ...)``."""

from __future__ import annotations

import socket

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.host import Host
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import ImageCache, fetch_settings
from ansible_collections.novalite.compute.plugins.module_utils._store.migrations import MigrationStore
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import RecordStore


def this_host_name(params):
    """This hypervisor's name in records: compute_host, else the host name."""
    return params.get('compute_host') or socket.gethostname()


class Hypervisor(object):
    """One hypervisor, as the engines see it.

    ``host``: the libvirt connection (``_libvirt.host.Host``, opened lazily,
    used as a context manager by the module engines); ``paths``:
    ``InstancePaths``; ``store``: ``RecordStore``; ``migrations``:
    ``MigrationStore`` (one on ``paths`` unless given); ``this_host``: this
    host's name in records; ``fetch``: the ImageCache keywords of
    ``_storage.image_cache.fetch_settings``; ``force_raw``: the default of
    ``images()``. ``image_cache``: a callable with ImageCache's signature
    (default ImageCache itself), so that a test can hand the engines a fake
    image cache.
    """

    def __init__(self, host, paths, store, this_host, fetch=None, migrations=None, force_raw=False,
                 image_cache=None):
        self.host = host
        self.paths = paths
        self.store = store
        self.this_host = this_host
        self.fetch = dict(fetch or {})
        self.migrations = migrations if migrations is not None else MigrationStore(paths)
        self.force_raw = force_raw
        self._image_cache = image_cache if image_cache is not None else ImageCache

    @classmethod
    def from_params(cls, params):
        """The context for a module's parameters (validates the fetch options)."""
        paths = InstancePaths(params['instances_path'])
        this_host = this_host_name(params)
        host = Host(params['uri'], this_host=this_host)
        store = RecordStore(paths, lock_timeout=params['lock_timeout'])
        return cls(host, paths, store, this_host, fetch=fetch_settings(params),
                   force_raw=params.get('force_raw_images', False))

    def images(self, force_raw=None):
        """The image cache of this host (the one place an ImageCache is
        made); ``force_raw`` None means ``self.force_raw``."""
        return self._image_cache(self.paths, force_raw=self.force_raw if force_raw is None else force_raw,
                                 **self.fetch)


class OnHypervisor(object):
    """Base of the engines and module objects: the context and its parts
    (``hv``, ``host``, ``paths``, ``store``, ``migrations``, ``this_host``)
    as attributes, so method bodies read ``self.store``, not ``self.hv.store``."""

    def __init__(self, hv):
        self.hv = hv
        self.host = hv.host
        self.paths = hv.paths
        self.store = hv.store
        self.migrations = hv.migrations
        self.this_host = hv.this_host
