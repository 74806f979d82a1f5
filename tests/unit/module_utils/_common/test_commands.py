"""Finding and running external tools: PATH first, then the sbin
directories a non-root PATH often lacks; a missing tool names itself."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import commands
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError


def tool(directory, name, output):
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text('#!/bin/sh\necho %s\n' % output)
    path.chmod(0o755)
    return str(path)


@pytest.mark.skipif(not os.path.exists('/usr/sbin/mkswap'), reason='no /usr/sbin/mkswap here')
def test_a_tool_only_in_usr_sbin_is_found_when_path_lacks_it(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    found = commands.find_command('mkswap')
    assert found is not None and os.path.realpath(found) == os.path.realpath('/usr/sbin/mkswap')


def test_path_comes_first_then_the_sbin_directories_in_order(tmp_path, monkeypatch):
    first, second = tmp_path / 'local-sbin', tmp_path / 'sbin'
    monkeypatch.setattr(commands, 'SBIN_DIRS', (str(first), str(second)))
    in_path = tool(tmp_path / 'bin', 'probe', 'path')
    tool(first, 'probe', 'first')
    in_second = tool(second, 'probe', 'second')
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    assert commands.find_command('probe') == in_path
    os.unlink(in_path)
    assert commands.run(['probe'], 'probing') == (0, 'first\n')
    os.unlink(str(first / 'probe'))
    assert commands.find_command('probe') == in_second


def test_a_missing_tool_is_a_command_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(commands, 'SBIN_DIRS', (str(tmp_path / 'sbin'),))
    assert commands.find_command('novalite-no-such-tool') is None
    with pytest.raises(CommandError) as caught:
        commands.run(['novalite-no-such-tool', '-x'], 'formatting disk.swap as swap')
    assert str(caught.value) == 'formatting disk.swap as swap: command novalite-no-such-tool not found on this host'
