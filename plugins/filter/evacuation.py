# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the evacuation playbook, over the instance flow's pure rules
(``_instance.evacuation_policy``): the playbook decides with the very rule
instance_evacuate applies on the destination."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation_policy import refusal


def evacuation_refusal(record, source):
    """Why the instance whose last known record is ``record`` cannot be
    evacuated from ``source``; the empty string when it can."""
    if not isinstance(record, dict):
        raise AnsibleFilterError('evacuation_refusal: the record must be a dict, got %s' % type(record).__name__)
    return refusal(record, str(source)) or ''


class FilterModule(object):
    def filters(self):
        return {'evacuation_refusal': evacuation_refusal}
