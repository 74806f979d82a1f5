# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc of ``wait_timeout`` (argument spec ``_module.argspec.timeout_options``).
A module may give its own ``description`` (instance_migrate says which
steps it bounds); Ansible merges it over this one and keeps type and default."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  wait_timeout:
    description: Seconds to wait for the domain to be running after starting it.
    type: int
    default: 120
'''
