# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  fetch_timeout:
    description:
      - Socket timeout in seconds for each read while an image is downloaded into the base image cache
        (a spawn, a hard reboot that must fetch a purged base again, a migration destination without the base).
    type: int
    default: 60
  fetch_deadline:
    description:
      - Overall seconds a download may take, connecting and headers included (a wall clock - whatever blocks is
        interrupted); past it the download stops with an error that says so. V(0) means no deadline.
    type: int
    default: 3600
  max_image_size:
    description:
      - Largest image, in bytes or with a unit (V(20G), V(512M)), that is downloaded or copied into the cache.
        A download stops as soon as it passes this size, or the size derived from the flavor's root disk
        (root disk plus 10% and 64 MiB of qcow2 metadata), whichever is smaller; a C(Content-Length) above it
        is refused before anything is downloaded.
      - Unset, only the root-disk size applies (none when the flavor's C(root_gb) is V(0)).
    type: str
  validate_certs:
    description: Verify TLS certificates when fetching images over https.
    type: bool
    default: true
'''
