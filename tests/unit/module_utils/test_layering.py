"""The import rules the tree shows, checked on the source (an AST walk).

plugins/module_utils/ is layers below and flows above:

    _common            errors, states, spec, commands, steps (imports nothing of ours)
    _store             this host's files: paths, records, migrations, locks, operation
    _libvirt           the hypervisor: connection, guest, power, domain XML, designer
    _storage           images and disks
    _module            what every module shares: boundary, argspec, hypervisor context
    _instance _reboot _migrate    one package per flow; no flow imports another
    _placement _host _inventory   (the inventory plugin's fleet view is pure policy)
    _reconcile         recovery: the only package that reaches into the flows

Imports point downward only (a package may import its own package and the
ones below it). Policies are pure: they import only ``_common`` and their own
package's policies (recovery's also the flows' policies, whose rules it
applies), and never libvirt, lxml or Ansible.
"""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODULE_UTILS = os.path.join(ROOT, 'plugins', 'module_utils')
PREFIX = 'ansible_collections.novalite.compute.plugins.module_utils.'

RANK = {
    '_common': 0,
    '_libvirt': 2,
    '_store': 1,
    '_storage': 3,
    '_module': 4,
    '_instance': 5,
    '_reboot': 5,
    '_migrate': 5,
    '_placement': 5,
    '_host': 5,
    '_inventory': 5,
    '_reconcile': 6,
}
FLOWS = ('_instance', '_reboot', '_migrate', '_placement', '_host', '_inventory', '_reconcile')
IMPURE = ('libvirt', 'lxml', 'ansible')


def _sources():
    for package in sorted(os.listdir(MODULE_UTILS)):
        directory = os.path.join(MODULE_UTILS, package)
        if not os.path.isdir(directory) or package == '__pycache__':
            continue
        for name in sorted(os.listdir(directory)):
            if name.endswith('.py'):
                yield package, name[:-3], os.path.join(directory, name)


def _imports(path):
    """(dotted name imported, line) for every import in the file at ``path``."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError('%s:%d: relative import; module_utils use absolute ones' % (path, node.lineno))
            for alias in node.names:
                yield '%s.%s' % (node.module, alias.name), node.lineno


def _target(dotted):
    """(package, module) of one of our module_utils, or None for anything else."""
    if not dotted.startswith(PREFIX):
        return None
    parts = dotted[len(PREFIX):].split('.')
    return parts[0], parts[1] if len(parts) > 1 else None


def _is_policy(module):
    return module == 'policy' or module.endswith('_policy')


def violations():
    found = []
    for package, module, path in _sources():
        where = '%s/%s.py' % (package, module)
        for dotted, line in _imports(path):
            target = _target(dotted)
            if _is_policy(module) and package != '_common':
                if target is None and dotted.split('.')[0] in IMPURE:
                    found.append('%s:%d: a policy imports %s' % (where, line, dotted))
                elif target and target[0] != '_common' and not _is_policy(target[1] or ''):
                    found.append('%s:%d: a policy imports %s (policies import only _common and policies)'
                                 % (where, line, dotted))
                elif target and target[0] not in ('_common', package) and package != '_reconcile':
                    found.append('%s:%d: a policy imports %s (policies import only _common)' % (where, line, dotted))
            if target is None:
                continue
            other = target[0]
            if other not in RANK:
                found.append('%s:%d: imports %s, which is in no layer' % (where, line, dotted))
            elif other == package:
                continue
            elif RANK[other] > RANK[package]:
                found.append('%s:%d: imports %s, a layer above' % (where, line, dotted))
            elif RANK[other] == RANK[package] and package in FLOWS:
                found.append('%s:%d: the %s flow imports the %s flow' % (where, line, package, other))
    return found


def test_every_module_util_is_in_a_layer():
    loose = [name for name in os.listdir(MODULE_UTILS) if name.endswith('.py') and name != '__init__.py']
    assert loose == []
    packages = [name for name in os.listdir(MODULE_UTILS)
                if os.path.isdir(os.path.join(MODULE_UTILS, name)) and name != '__pycache__']
    assert sorted(packages) == sorted(RANK)


def test_imports_point_downward_and_policies_are_pure():
    assert violations() == []


MODULE_FLOW = {
    'libvirt_instance.py': '_instance',
    'instance_evacuate.py': '_instance',
    'instance_reboot.py': '_reboot',
    'instance_migrate.py': '_migrate',
    'state_reconcile.py': '_reconcile',
    'hypervisor_info.py': '_host',
    'hypervisor_service.py': '_host',
    'placement.py': '_placement',
}


def test_modules_import_only_their_flow_and_the_module_layer():
    modules = os.path.join(ROOT, 'plugins', 'modules')
    assert sorted(name for name in os.listdir(modules) if name.endswith('.py')) == sorted(MODULE_FLOW)
    found = []
    for name, flow in sorted(MODULE_FLOW.items()):
        for dotted, line in _imports(os.path.join(modules, name)):
            target = _target(dotted)
            if target and not (target[0] == '_module' or target == (flow, 'module')):
                found.append('%s:%d: %s' % (name, line, dotted))
    assert found == []


def test_no_nested_packages():
    """The rules above look one package deep; a package inside a package would escape them."""
    nested = [os.path.join(package, name) for package in RANK
              for name in os.listdir(os.path.join(MODULE_UTILS, package))
              if os.path.isdir(os.path.join(MODULE_UTILS, package, name)) and name != '__pycache__']
    assert nested == []


POLICIES = sorted('%s.%s.%s' % (PREFIX.rstrip('.'), package, module) for package, module, _path in _sources()
                  if _is_policy(module))


@pytest.mark.parametrize('policy', POLICIES)
def test_a_policy_loads_no_libvirt_lxml_or_ansible_even_indirectly(policy):
    """What a policy imports, and all that those import in turn: imported in
    a fresh interpreter, nothing of libvirt, lxml or Ansible gets loaded."""
    probe = ('import importlib, sys; importlib.import_module(%r); '
             'print(sorted(m for m in sys.modules if m.split(".")[0] in ("libvirt", "libvirtmod", "lxml", "ansible")))'
             % policy)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, '-c', probe], env=env, check=True, capture_output=True, text=True).stdout
    assert out.strip() == '[]'


@pytest.mark.parametrize('source, expected', [
    ('from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import X\n',
     'imports ansible_collections.novalite.compute.plugins.module_utils._migrate.source.X, a layer above'),
    ('from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import X\n',
     'the _instance flow imports the _reboot flow'),
    ('import libvirt\n', 'a policy imports libvirt'),
    ('from ansible_collections.novalite.compute.plugins.module_utils._store.records import X\n',
     'policies import only _common'),
])
def test_the_rules_catch_a_wrong_import(tmp_path, monkeypatch, source, expected):
    """The checker itself fails on each kind of wrong import (it cannot pass vacuously)."""
    package = {'a layer above': '_storage', 'the _instance flow': '_instance'}
    target = next((v for k, v in package.items() if k in expected), '_instance')
    name = 'policy' if 'policy' in expected or 'policies' in expected else 'probe'
    (tmp_path / target).mkdir()
    (tmp_path / target / (name + '.py')).write_text(source)
    monkeypatch.setattr(sys.modules[__name__], 'MODULE_UTILS', str(tmp_path))
    found = violations()
    assert len(found) == 1 and expected in found[0], found
