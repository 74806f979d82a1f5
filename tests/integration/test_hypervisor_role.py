"""The hypervisor role on this host, for what molecule does not cover: a
migration user that does not exist is refused by name, before any
authorized_keys file is written."""

import os
import subprocess


def test_unknown_migration_user_is_refused_by_name(instances_path, tmp_path):
    playbook = tmp_path / 'hypervisor.yml'
    playbook.write_text(
        '- hosts: localhost\n'
        '  gather_facts: false\n'
        '  roles:\n'
        '    - role: novalite.compute.hypervisor\n'
        '      vars:\n'
        '        hypervisor_instances_path: %s\n'
        '        hypervisor_migration_user: novalite-no-such-user\n'
        '        hypervisor_migration_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN9x peer"]\n'
        % instances_path)
    run = subprocess.run(['ansible-playbook', '-c', 'local', '-i', 'localhost,', str(playbook),
                          '-e', 'ansible_python_interpreter=' + os.environ['ANSIBLE_PYTHON_INTERPRETER']],
                         capture_output=True, text=True, timeout=300, check=False,
                         env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    assert run.returncode == 2, run.stdout[-3000:]
    assert 'hypervisor_migration_user novalite-no-such-user does not exist on localhost' in run.stdout
    assert 'TASK [novalite.compute.hypervisor : Create the .ssh directory]' not in run.stdout
    assert os.path.isdir(instances_path)
