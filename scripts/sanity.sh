#!/usr/bin/env bash
# ansible-test sanity needs the collection at ansible_collections/<ns>/<name>:
# copy the working tree (tracked and new files) there and run it. The copy is
# outside the checkout: ansible-test lists files with git, and build/ is ignored.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work="${TMPDIR:-/tmp}/novalite-sanity"
dest="$work/ansible_collections/novalite/compute"
rm -rf "$work"
mkdir -p "$dest"
cd "$here"
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$dest"
# A virtualenv of its own: ansible-test installs pinned linters into it
# (its --venv mode bootstraps pip from a host that may be unreachable).
venv="$here/build/sanity-venv"
if [ ! -x "$venv/bin/ansible-test" ]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$(grep '^ansible-core' "$here/requirements-dev.txt")"
fi
# ansible-test bootstraps pip in each test's virtualenv with a get-pip.py from
# ci-files.testing.ansible.com; when that host is unreachable, use ensurepip.
pip_version=$("$venv/bin/python" - <<'PY'
import os, re, ansible_test
source = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source).group(1))
PY
)
cache="$HOME/.ansible/test/cache"
if [ -n "$pip_version" ] && [ ! -s "$cache/get_pip_${pip_version//./_}.py" ] \
        && ! curl -sfo /dev/null --max-time 5 https://ci-files.testing.ansible.com/ 2>/dev/null; then
    mkdir -p "$cache"
    cp "$here/tests/tools/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"
fi
cd "$dest"
"$venv/bin/ansible-test" sanity --python "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --color no "$@"
