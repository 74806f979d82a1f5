# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement's inputs checked and filled in, and what a host can still take.

``normalise_options``, ``normalise_hosts`` and ``normalise_requests`` check
every field of the three inputs of ``placement_policy.place`` and return new
dicts (the inputs are never changed) with every default filled in. A bad
field is an ``InvalidInput`` naming where it is: ``hosts[2] (hv3): ...``,
``requests[0] (web1): ...`` or ``options: ...``. Unknown keys of a host or a
request are ignored (facts and instance specs carry more than placement
reads); unknown keys of the options, ``reserved``, ``used`` and ``ratios``
are refused (there they can only be typing mistakes). A host's instance
whose ``server_group_policy`` is unknown is no bad field: it is kept with a
``policy_error``, which refuses only the requests of its group.

A normalised host keeps its amounts per resource (``memory_mb``, ``vcpus``,
``disk_gb``) in four dicts: ``total``, ``reserved``, ``used`` and ``ratio``
(the host's override, else the option). Capacity, per resource::

    limit  = total * ratio - reserved
    usable = limit - used

The ratio scales the whole total and the reserved amount comes off after
it, as Nova's RamFilter, CoreFilter and DiskFilter computed it (Nova's
placement service takes the reserved amount off before applying the
ratio). ``used`` is what records and in-flight migrations claim; ``usable``
is negative on a host that is already overcommitted. A request needs
``flavor.memory_mb`` MiB, ``flavor.vcpus`` and ``root_gb + ephemeral_gb +
swap_mb / 1024`` GiB of disk.
"""

from __future__ import annotations

import math

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import FLAVOR_FIELDS, validate_flavor

RESOURCES = ('memory_mb', 'vcpus', 'disk_gb')
RATIO_OPTIONS = {'memory_mb': 'ram_allocation_ratio', 'vcpus': 'cpu_allocation_ratio', 'disk_gb': 'disk_allocation_ratio'}
GROUP_POLICIES = ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity')
WEIGHERS = ('spread', 'pack')
DEFAULT_OPTIONS = {
    'ram_allocation_ratio': 1.0,
    'cpu_allocation_ratio': 4.0,
    'disk_allocation_ratio': 1.0,
    'weigher': 'spread',
    'max_per_host': 1,
    'soft_group_multiplier': 1.0,
}
DEFAULT_VIRT_TYPE = 'kvm'
# Amounts and ratios beyond this are refused: float arithmetic stays exact
# for every integer below it, and nothing real comes near it.
MAX_NUMBER = 2 ** 53
# A request fits when it needs at most this much more than is usable, so
# that float noise (ratios, swap in GiB) never refuses an exact fit.
FIT_TOLERANCE = 1e-9
MAX_NAMED = 8


# --- wording -----------------------------------------------------------------------
def shown(value):
    """``value`` for a message: its repr, cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        return 'an integer beyond 2**53'
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def kind(value):
    return type(value).__name__


def listed(names, limit=MAX_NAMED):
    """``a, b, c`` or, past ``limit`` names, ``a, ..., h and 3 more``."""
    names = list(names)
    if len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)


def amount_text(value):
    """An amount as a message shows it: 2048, 20.5, 0.33."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return ('%.2f' % value).rstrip('0').rstrip('.')
    return str(value)


def tidy(value):
    """An amount for the result: an int when whole, else 4 decimals."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return round(value, 4) if isinstance(value, float) else value


def host_label(index, name=None):
    return 'hosts[%d] (%s)' % (index, name) if name else 'hosts[%d]' % index


def request_label(index, name=None):
    return 'requests[%d] (%s)' % (index, name) if name else 'requests[%d]' % index


# --- field checks ------------------------------------------------------------------
def _refuse(where, message):
    raise InvalidInput('%s: %s' % (where, message))


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return abs(value) <= MAX_NUMBER


def _amount(where, field, value, integer):
    """A non-negative amount: an int, or (``integer`` False) any finite number."""
    wanted = 'integer' if integer else 'number'
    if not _finite(value) or (integer and not isinstance(value, int)) or value < 0:
        _refuse(where, '%s must be a non-negative %s, got %s' % (field, wanted, shown(value)))
    return value


def _ratio(where, field, value):
    if not _finite(value) or value <= 0:
        _refuse(where, '%s must be a positive number, got %s' % (field, shown(value)))
    return value


def _required(where, data, field):
    value = data.get(field)
    if value is None:
        _refuse(where, '%s is required' % field)
    return value


def _flag(where, field, value, default):
    if value is None:
        return default
    if not isinstance(value, bool):
        _refuse(where, '%s must be true or false, got %s' % (field, shown(value)))
    return value


def _optional_text(where, field, value):
    """A string, or None (an empty string counts as not given)."""
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        _refuse(where, '%s must be a string, got %s' % (field, shown(value)))
    return value


def _text_list(where, field, value):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        _refuse(where, '%s must be a list of strings, got %s' % (field, kind(value)))
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item:
            _refuse(where, '%s[%d] must be a non-empty string, got %s' % (field, position, shown(item)))
    return list(value)


def _mapping(where, field, value, allowed=None):
    """A dict (None counts as {}); with ``allowed``, holding no other key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _refuse(where, '%s must be a dict, got %s' % (field, kind(value)))
    unknown = sorted(str(key) for key in value if allowed is not None and key not in allowed)
    if unknown:
        _refuse(where, '%s has unknown key(s) %s (known: %s)' % (field, ', '.join(unknown), ', '.join(allowed)))
    return value


def _name(where, field, value):
    if value is None:
        _refuse(where, '%s is required' % field)
    if not isinstance(value, str) or not value.strip():
        _refuse(where, '%s must be a non-empty string, got %s' % (field, shown(value)))
    return value


def group_policy_value(where, field, value):
    """One of GROUP_POLICIES, or None when not given."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or value not in GROUP_POLICIES:
        _refuse(where, '%s must be one of %s, got %s' % (field, ', '.join(GROUP_POLICIES), shown(value)))
    return value


# --- options -----------------------------------------------------------------------
def normalise_options(options):
    """The options with every default filled in (a None value means the default)."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise InvalidInput('options must be a dict, got %s' % kind(options))
    _mapping('options', 'options', options, tuple(DEFAULT_OPTIONS))
    result = dict(DEFAULT_OPTIONS)
    result.update((key, value) for key, value in options.items() if value is not None)
    for field in RATIO_OPTIONS.values():
        _ratio('options', field, result[field])
    if not isinstance(result['weigher'], str) or result['weigher'] not in WEIGHERS:
        _refuse('options', "weigher must be 'spread' or 'pack', got %s" % shown(result['weigher']))
    per_host = result['max_per_host']
    if not _finite(per_host) or not isinstance(per_host, int) or per_host < 1:
        _refuse('options', 'max_per_host must be an integer of at least 1, got %s' % shown(per_host))
    multiplier = result['soft_group_multiplier']
    if not _finite(multiplier) or multiplier < 0:
        _refuse('options', 'soft_group_multiplier must be a non-negative number, got %s' % shown(multiplier))
    return result


# --- hosts -------------------------------------------------------------------------
def normalise_hosts(hosts, options):
    """Every host normalised (``options`` already normalised); names unique."""
    if not isinstance(hosts, (list, tuple)):
        raise InvalidInput('hosts must be a list, got %s' % kind(hosts))
    result, seen = [], {}
    for index, host in enumerate(hosts):
        normal = normalise_host(index, host, options)
        name = normal['compute_host']
        if name in seen:
            _refuse(host_label(index, name), "compute_host %r is also hosts[%d]'s" % (name, seen[name]))
        seen[name] = index
        result.append(normal)
    return result


def normalise_host(index, host, options):
    if not isinstance(host, dict):
        raise InvalidInput('%s must be a dict, got %s' % (host_label(index), kind(host)))
    name = _name(host_label(index), 'compute_host', host.get('compute_host'))
    where = host_label(index, name)
    return {
        'compute_host': name,
        'enabled': _flag(where, 'enabled', host.get('enabled'), True),
        'disabled_reason': _optional_text(where, 'disabled_reason', host.get('disabled_reason')),
        'reachable': _flag(where, 'reachable', host.get('reachable'), True),
        'virt_types': _text_list(where, 'virt_types', _required(where, host, 'virt_types')),
        'arch': _optional_text(where, 'arch', host.get('arch')),
        'cpu': _host_cpu(where, host.get('cpu')),
        'total': dict((resource, _total(where, host, resource)) for resource in RESOURCES),
        'reserved': _amounts(where, 'reserved', host.get('reserved')),
        'used': _amounts(where, 'used', host.get('used')),
        'ratio': _host_ratios(where, host.get('ratios'), options),
        'instances': _instances(where, host.get('instances')),
    }


def _total(where, host, resource):
    return _amount(where, resource, _required(where, host, resource), resource != 'disk_gb')


def _amounts(where, field, value):
    """``reserved`` or ``used``: each resource, 0 when not given."""
    value = _mapping(where, field, value, RESOURCES)
    amounts = {}
    for resource in RESOURCES:
        given = value.get(resource)
        amounts[resource] = 0 if given is None else _amount(where, '%s.%s' % (field, resource), given, resource != 'disk_gb')
    return amounts


def _host_ratios(where, value, options):
    """The ratio of each resource: the host's override, else the option."""
    value = _mapping(where, 'ratios', value, tuple(RATIO_OPTIONS.values()))
    ratios = {}
    for resource, option in RATIO_OPTIONS.items():
        given = value.get(option)
        ratios[resource] = options[option] if given is None else _ratio(where, 'ratios.%s' % option, given)
    return ratios


def _host_cpu(where, value):
    value = _mapping(where, 'cpu', value)
    return {
        'model': _optional_text(where, 'cpu.model', value.get('model')),
        'vendor': _optional_text(where, 'cpu.vendor', value.get('vendor')),
        'features': _text_list(where, 'cpu.features', value.get('features')),
    }


def _instances(where, value):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        _refuse(where, 'instances must be a list, got %s' % kind(value))
    return [_instance('%s: instances[%d]' % (where, position), item) for position, item in enumerate(value)]


def _instance(where, value):
    """One instance on a host; a policy without a group is dropped. A policy
    that is not one of GROUP_POLICIES is no error of the whole call: the
    instance keeps its place (and its resources) with a ``policy_error``,
    and only the requests of its group are refused (``group_policy``)."""
    if not isinstance(value, dict):
        raise InvalidInput('%s must be a dict, got %s' % (where, kind(value)))
    uuid = _optional_text(where, 'uuid', value.get('uuid'))
    name = _optional_text(where, 'name', value.get('name'))
    if uuid is None and name is None:
        _refuse(where, 'needs a name or a uuid')
    group = _optional_text(where, 'server_group', value.get('server_group'))
    policy, error = value.get('server_group_policy'), None
    if not group or policy == '':
        policy = None
    elif policy is not None and (not isinstance(policy, str) or policy not in GROUP_POLICIES):
        policy, error = None, 'unknown policy %s' % shown(policy)
    return {'uuid': uuid, 'name': name, 'server_group': group, 'server_group_policy': policy, 'policy_error': error}


# --- requests ----------------------------------------------------------------------
def normalise_requests(requests):
    """Every request normalised; names unique, and uuids where given."""
    if not isinstance(requests, (list, tuple)):
        raise InvalidInput('requests must be a list, got %s' % kind(requests))
    result, names, uuids = [], {}, {}
    for index, request in enumerate(requests):
        normal = normalise_request(index, request)
        where = request_label(index, normal['name'])
        if normal['name'] in names:
            _refuse(where, "name %r is also requests[%d]'s" % (normal['name'], names[normal['name']]))
        if normal['uuid'] is not None and normal['uuid'] in uuids:
            _refuse(where, "uuid %r is also requests[%d]'s" % (normal['uuid'], uuids[normal['uuid']]))
        names[normal['name']] = index
        if normal['uuid'] is not None:
            uuids[normal['uuid']] = index
        result.append(normal)
    return result


def normalise_request(index, request):
    if not isinstance(request, dict):
        raise InvalidInput('%s must be a dict, got %s' % (request_label(index), kind(request)))
    name = _name(request_label(index), 'name', request.get('name'))
    where = request_label(index, name)
    group, policy = _request_group(where, request.get('metadata'))
    return {
        'name': name,
        'uuid': _optional_text(where, 'uuid', request.get('uuid')),
        'flavor': _flavor(where, request.get('flavor')),
        'virt_type': _optional_text(where, 'virt_type', request.get('virt_type')) or DEFAULT_VIRT_TYPE,
        'arch': _optional_text(where, 'arch', request.get('arch')),
        'cpu_features': _text_list(where, 'cpu_features', request.get('cpu_features')),
        'server_group': group,
        'server_group_policy': policy,
        'exclude_hosts': _text_list(where, 'exclude_hosts', request.get('exclude_hosts')),
    }


def _flavor(where, value):
    if value is None:
        _refuse(where, 'flavor is required')
    if not isinstance(value, dict):
        _refuse(where, 'flavor must be a dict, got %s' % kind(value))
    try:
        flavor = validate_flavor(value)
    except InvalidInput as exc:
        raise InvalidInput('%s: %s' % (where, exc.message))
    for field in FLAVOR_FIELDS:
        if flavor[field] > MAX_NUMBER:
            _refuse(where, 'flavor.%s is beyond 2**53' % field)
    return flavor


def _request_group(where, metadata):
    """(server group, the policy the request asks for) from its metadata."""
    metadata = _mapping(where, 'metadata', metadata)
    group = _optional_text(where, 'metadata.server_group', metadata.get('server_group'))
    policy = group_policy_value(where, 'metadata.server_group_policy', metadata.get('server_group_policy'))
    if policy is not None and group is None:
        _refuse(where, 'metadata.server_group_policy %r needs a metadata.server_group' % policy)
    return group, policy


# --- capacity ----------------------------------------------------------------------
def request_needs(request):
    """What the request claims on a host, per resource."""
    flavor = request['flavor']
    disk = flavor['root_gb'] + flavor['ephemeral_gb'] + flavor['swap_mb'] / 1024.0
    return {'memory_mb': flavor['memory_mb'], 'vcpus': flavor['vcpus'], 'disk_gb': disk}


def resource_capacity(host, resource):
    """total, reserved, ratio, used, limit and usable of one resource of a normalised host."""
    total, ratio = host['total'][resource], host['ratio'][resource]
    reserved, used = host['reserved'][resource], host['used'][resource]
    limit = total * ratio - reserved
    return {'total': total, 'reserved': reserved, 'ratio': ratio, 'used': used, 'limit': limit, 'usable': limit - used}


def usable(host, resource):
    return resource_capacity(host, resource)['usable']


def fits(needed, available):
    return needed <= available + FIT_TOLERANCE


def claim(host, request, needs, policy):
    """A copy of ``host`` with the request's needs added to what is used and
    the request among its instances (in its server group, with ``policy``)."""
    claimed = dict(host)
    claimed['used'] = dict((resource, host['used'][resource] + needs[resource]) for resource in RESOURCES)
    group = request['server_group']
    member = {'uuid': request['uuid'], 'name': request['name'], 'server_group': group,
              'server_group_policy': policy if group else None, 'policy_error': None}
    claimed['instances'] = host['instances'] + [member]
    return claimed


def capacity_report(host):
    """{resource: {total, reserved, ratio, used, usable}, 'instances': count} of a normalised host."""
    report = {}
    for resource in RESOURCES:
        capacity = resource_capacity(host, resource)
        report[resource] = {'total': tidy(capacity['total']), 'reserved': tidy(capacity['reserved']),
                            'ratio': capacity['ratio'], 'used': tidy(capacity['used']),
                            'usable': tidy(capacity['usable'])}
    report['instances'] = len(host['instances'])
    return report
