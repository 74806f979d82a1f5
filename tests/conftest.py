"""Make the checkout importable as ansible_collections.novalite.compute for
unit tests (a symlink farm under build/, ignored by git)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FARM = os.path.join(ROOT, 'build', 'collections')
LINK = os.path.join(FARM, 'ansible_collections', 'novalite', 'compute')

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if FARM not in sys.path:
    sys.path.insert(0, FARM)
