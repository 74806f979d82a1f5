"""The program the inventory plugin runs on each hypervisor to read its
instance records: driven in-process on a tmp dir, then as the plugin runs
it (its own source through ``python3 -c``, directly and through a shell as
sshd would)."""

import ast
import inspect
import json

import pytest

from ansible_collections.novalite.compute.plugins.inventory.instances import InventoryModule
from ansible_collections.novalite.compute.plugins.module_utils._store import record_reader
from ansible_collections.novalite.compute.tests.unit import fakes


@pytest.fixture
def root(tmp_path):
    records = tmp_path / 'instances' / '_records'
    records.mkdir(parents=True)
    (records / 'b.json').write_text(json.dumps({'name': 'web2', 'host': 'hv1', 'uuid': 'u-b'}))
    (records / 'a.json').write_text(json.dumps({'name': 'web1', 'host': 'hv1', 'uuid': 'u-a', 'metadata': {'k': 'v'}}))
    (records / 'c.json').write_text('{"cut short')                  # not JSON: left out
    (records / 'd.json').mkdir()                                      # cannot be read: left out
    (records / '.tmp-x.json').write_text('{}')                        # an interrupted write: not matched
    (records / 'e.txt').write_text('{}')                              # not a record
    (tmp_path / 'instances' / 'u-a').mkdir()
    return str(tmp_path / 'instances')


EXPECTED = [{'name': 'web1', 'host': 'hv1', 'uuid': 'u-a', 'metadata': {'k': 'v'}},
            {'name': 'web2', 'host': 'hv1', 'uuid': 'u-b'}]


def test_the_records_in_file_name_order_without_the_unreadable_ones(root):
    assert record_reader.read_records(root) == EXPECTED


def test_no_records_directory_is_no_records(tmp_path):
    assert record_reader.read_records(str(tmp_path / 'missing')) == []


def test_main_prints_one_json_list(root, capsys):
    record_reader.main(['-c', root])
    out = capsys.readouterr().out
    assert out == json.dumps(EXPECTED) + '\n'


def test_the_shipped_program_imports_only_the_stdlib():
    assert fakes.imported_modules(inspect.getsource(record_reader)) == {'glob', 'json', 'os', 'sys'}


def test_the_shipped_program_parses_as_python_3_6():
    """The hypervisor's python3 may be 3.6 (RHEL 8): no ``from __future__
    import annotations``, no newer syntax."""
    source = inspect.getsource(record_reader)
    tree = ast.parse(source, feature_version=(3, 6))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == '__future__']


def test_the_plugin_runs_it_on_this_machine(root):
    assert InventoryModule()._records({'name': 'hv1', 'instances_path': root}) == EXPECTED


def test_the_plugin_runs_it_over_ssh_through_the_remote_shell(root, tmp_path, monkeypatch):
    """ssh hands the command line to the login shell: the quoted source must survive it."""
    fakes.fake_ssh_on_path(tmp_path, monkeypatch)
    hv = {'name': 'hv1', 'instances_path': root, 'ssh_host': 'hv1.example', 'ssh_user': 'nova', 'ssh_port': 22}
    assert InventoryModule()._records(hv) == EXPECTED
