"""The crash-point suite needs the environment scripts/setup.sh writes
(build/novalite.env) and both test hypervisors; it is never skipped."""

import os

import pytest

REQUIRED_ENV = ('ANSIBLE_COLLECTIONS_PATH', 'NOVALITE_TEST_IMAGE', 'NOVALITE_VIRT_TYPE', 'NOVALITE_HOSTB_SSH_KEY',
                'NOVALITE_HOSTB_INSTANCES', 'NOVALITE_HOSTA_SSH_PORT', 'NOVALITE_HOSTB_MIGRATION_KEY')


def pytest_configure(config):
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError('the crash-point suite needs %s: source build/novalite.env (scripts/setup.sh)'
                                % ', '.join(missing))


def pytest_terminal_summary(terminalreporter, config):
    table = getattr(config, 'crash_table', None)
    if table is None:
        return
    write = terminalreporter.write_line
    write('')
    write('%-52s %-8s %s' % ('operation:step', 'variant', 'result'))
    for point, variant, verdict in sorted(table):
        write('%-52s %-8s %s' % (point, variant, verdict))
    converged = sum(1 for row in table if row[2] == 'converged')
    write('crash points: %d of %d converged' % (converged, len(table)))
