#!/usr/bin/env bash
# ansible-test sanity needs the collection at ansible_collections/<ns>/<name>:
# copy the working tree (tracked and new files) there and run it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/build/sanity/ansible_collections/novalite/compute"
rm -rf "$here/build/sanity"
mkdir -p "$dest"
cd "$here"
git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$dest"
cd "$dest"
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --venv --color no "$@"
