"""The program the inventory plugin runs on each hypervisor to read its
instance records: driven in-process on a tmp dir, then as the plugin runs
it (its own source through ``python3 -c``, directly and through a shell as
sshd would)."""

import ast
import inspect
import json
import os

import pytest

from ansible_collections.novalite.compute.plugins.inventory.instances import InventoryModule
from ansible_collections.novalite.compute.plugins.module_utils._store import record_reader


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
    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(record_reader))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {'__future__', 'glob', 'json', 'os', 'sys'}


def test_the_plugin_runs_it_on_this_machine(root):
    assert InventoryModule()._records({'name': 'hv1', 'instances_path': root}) == EXPECTED


def test_the_plugin_runs_it_over_ssh_through_the_remote_shell(root, tmp_path, monkeypatch):
    """ssh hands the command line to the login shell: the quoted source must survive it."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake_ssh = bin_dir / 'ssh'
    fake_ssh.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift 2\nexec sh -c "$1"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir) + os.pathsep + os.environ['PATH'])
    hv = {'name': 'hv1', 'instances_path': root, 'ssh_host': 'hv1.example', 'ssh_user': 'nova', 'ssh_port': 22}
    assert InventoryModule()._records(hv) == EXPECTED
