#!/usr/bin/env bash
# Set everything up, then run the demo: boot an instance from the tiny image,
# show its state, stop it, start it, delete it.   Usage (as root): bash scripts/demo.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/setup.sh"
. "$here/build/novalite.env"
cd "$here"
exec ansible-playbook playbooks/demo.yml \
    -e "virt_type=$NOVALITE_VIRT_TYPE" \
    -e "image_url=file://$NOVALITE_TEST_IMAGE" \
    -e "network=$NOVALITE_TEST_NETWORK"
