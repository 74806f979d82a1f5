"""The shared-storage probe on a real directory: written by the source,
rewritten by a destination that sees the same file, read back, and
removed only by the host it names when one is given."""

import os

from ansible_collections.novalite.compute.plugins.module_utils._migrate.probe import read_probe, remove_probe, write_probe


def probe_path(tmp_path):
    return str(tmp_path / '.novalite-probe-m-1')


def test_no_probe_reads_none(tmp_path):
    assert read_probe(probe_path(tmp_path)) is None


def test_written_probe_names_the_host(tmp_path):
    path = probe_path(tmp_path)
    write_probe(path, 'hostA')
    assert read_probe(path) == 'hostA'
    with open(path) as handle:
        assert handle.read() == 'hostA\n'


def test_the_destination_rewrites_the_sources_probe(tmp_path):
    """Shared storage: one file, whose last writer is the destination."""
    path = probe_path(tmp_path)
    write_probe(path, 'a-much-longer-source-host-name')
    write_probe(path, 'hostB')
    assert read_probe(path) == 'hostB'          # no tail of the longer name left


def test_reading_ignores_surrounding_whitespace(tmp_path):
    path = probe_path(tmp_path)
    with open(path, 'w') as handle:
        handle.write('  hostA \n\n')
    assert read_probe(path) == 'hostA'


def test_an_empty_probe_names_no_host(tmp_path):
    """A probe cut short by a crash: a file naming nobody reads as no probe."""
    path = probe_path(tmp_path)
    with open(path, 'w'):
        pass
    assert read_probe(path) is None


def test_remove_without_host_removes(tmp_path):
    path = probe_path(tmp_path)
    write_probe(path, 'hostB')
    remove_probe(path)
    assert not os.path.exists(path)


def test_remove_only_the_probe_naming_this_host(tmp_path):
    path = probe_path(tmp_path)
    write_probe(path, 'hostB')
    remove_probe(path, 'hostA')             # the destination's now: not the source's to remove
    assert read_probe(path) == 'hostB'
    remove_probe(path, 'hostB')
    assert not os.path.exists(path)


def test_remove_does_not_match_a_prefix_of_the_name(tmp_path):
    path = probe_path(tmp_path)
    write_probe(path, 'hostA2')
    remove_probe(path, 'hostA')
    assert os.path.exists(path)


def test_removing_a_missing_probe_is_not_an_error(tmp_path):
    path = probe_path(tmp_path)
    remove_probe(path)
    remove_probe(path, 'hostA')
    assert not os.path.exists(path)


def test_remove_leaves_other_migrations_probes(tmp_path):
    mine, other = str(tmp_path / '.novalite-probe-m-1'), str(tmp_path / '.novalite-probe-m-2')
    write_probe(mine, 'hostA')
    write_probe(other, 'hostA')
    remove_probe(mine, 'hostA')
    assert not os.path.exists(mine) and read_probe(other) == 'hostA'
