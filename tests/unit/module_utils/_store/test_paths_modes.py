"""File modes under instances_path (issue 11, finding 5): private by
default, traversable where QEMU must pass, earlier versions' modes tightened,
an operator's tighter modes kept."""

import os

from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths


def mode(path):
    return oct(os.stat(path).st_mode & 0o777)


def test_new_layout_under_a_private_umask_is_traversable(tmp_path):
    old = os.umask(0o077)
    try:
        paths = InstancePaths(str(tmp_path / 'var' / 'lib' / 'novalite' / 'instances'))
        paths.ensure_layout()
    finally:
        os.umask(old)
    assert mode(tmp_path / 'var' / 'lib' / 'novalite') == '0o755'     # QEMU walks through it
    assert (mode(paths.root), mode(paths.base_dir)) == ('0o711', '0o711')
    assert mode(paths.records_dir) == mode(paths.locks_dir) == mode(paths.migrations_dir) == '0o700'


def test_an_earlier_versions_world_readable_files_are_tightened(tmp_path):
    paths = InstancePaths(str(tmp_path / 'instances'))
    instance = os.path.join(paths.root, '6f1b3c1e-0000-4000-8000-000000000001')
    os.makedirs(instance, 0o755)
    os.makedirs(paths.base_dir, 0o755)
    for path in (os.path.join(instance, 'disk'), os.path.join(paths.base_dir, 'cafe')):
        with open(path, 'w') as handle:
            handle.write('x')
        os.chmod(path, 0o644)
    for directory in (paths.root, instance, paths.base_dir):
        os.chmod(directory, 0o755)
    paths.ensure_layout()
    assert mode(instance) == '0o711' and mode(os.path.join(instance, 'disk')) == '0o640'
    assert mode(paths.base_dir) == '0o711' and mode(os.path.join(paths.base_dir, 'cafe')) == '0o640'
    assert mode(paths.root) == '0o711'


def test_an_operators_tighter_modes_are_kept(tmp_path):
    paths = InstancePaths(str(tmp_path / 'instances'))
    paths.ensure_layout()
    os.chmod(paths.root, 0o710)          # root:kvm 0710, say
    paths.ensure_layout()
    assert mode(paths.root) == '0o710'
