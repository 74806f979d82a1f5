# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_instance's argument spec for ``guest_agent``, as main() hands it
to AnsibleModule, against its DOCUMENTATION and RETURN, and what the
validated value becomes in the desired instance."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.novalite.compute.plugins.module_utils._common.spec import normalise
from ansible_collections.novalite.compute.plugins.modules import libvirt_instance
from ansible_collections.novalite.compute.tests.unit import fakes


def test_guest_agent_is_a_bool_without_default_as_documented():
    # no default: "not given" must stay distinguishable from false, or every
    # task that leaves it out would warn about an instance built with true
    spec = fakes.argument_spec(libvirt_instance)['argument_spec']['guest_agent']
    assert spec == {'type': 'bool'}
    documented = yaml.safe_load(libvirt_instance.DOCUMENTATION)['options']['guest_agent']
    assert documented['type'] == 'bool' and 'default' not in documented
    assert 'version_added' not in documented                 # as no other option of the module


def test_guest_agent_is_returned_in_the_instance():
    returned = yaml.safe_load(libvirt_instance.RETURN)['instance']['contains']['guest_agent']
    assert returned['type'] == 'bool'


@pytest.mark.parametrize('given, expected', [({}, None), ({'guest_agent': True}, True),
                                             ({'guest_agent': 'yes'}, True), ({'guest_agent': 'off'}, False)])
def test_validated_guest_agent_reaches_the_desired_instance(given, expected):
    params = fakes.module_params(libvirt_instance, name='web1', **given)
    assert params['guest_agent'] is expected
    assert normalise(params)['guest_agent'] is expected


def test_a_value_that_is_not_a_boolean_is_refused():
    with pytest.raises(AssertionError, match='guest_agent'):
        fakes.module_params(libvirt_instance, name='web1', guest_agent='maybe')


def test_absent_needs_no_guest_agent():
    params = fakes.module_params(libvirt_instance, name='web1', state='absent', guest_agent=True)
    assert 'guest_agent' not in normalise(params)
