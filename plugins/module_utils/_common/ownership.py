# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which host owns an instance: the record says (pure)."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceInvalidState


def check_owner(record, this_host):
    if record.host and record.host != this_host:
        raise InstanceInvalidState('instance is owned by host %s, not by %s (this host)' % (record.host, this_host),
                                   instance=record.label, step='check host')
