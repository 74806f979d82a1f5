"""Stand-in for the get-pip.py that ansible-test downloads from
ci-files.testing.ansible.com to bootstrap pip in its sanity virtualenvs.
Where that host is unreachable (these CI machines reach only package
registries), bootstrap pip with the standard library's ensurepip and then
install the requested pip version from the package index, with the same
arguments get-pip.py would get."""

import ensurepip
import subprocess
import sys

ensurepip.bootstrap()
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
