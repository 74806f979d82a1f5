#!/usr/bin/env bash
# What CI can check of the molecule "vagrant" scenario here. The full scenario
# (`cd extensions && molecule test -s vagrant`) boots a hypervisor VM with
# nested guests and needs a KVM host: it is not run in CI (docs/molecule.md).
#   1. the Debian packages vagrant and vagrant-libvirt, installed if missing;
#   2. the box builds (tests/images/build-vagrant-box.sh; cached by its inputs);
#   3. `vagrant box add` accepts it as novalite/debian-12 and `vagrant box list`
#      shows it for the libvirt provider; `vagrant validate` of a machine using
#      it reads the box's Vagrantfile;
#   4. `molecule syntax -s vagrant` passes (and the scenario's prepare and
#      verify playbooks pass ansible-playbook --syntax-check).
# Nothing is booted: no `vagrant up`.
# Usage (as root, after scripts/setup.sh): bash scripts/vagrant_checks.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { echo "vagrant-checks: $*"; }
fail() { echo "vagrant-checks: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (apt-get, the box cache under root's home)"
[ -f build/novalite.env ] || fail "build/novalite.env is missing: run scripts/setup.sh first"
# shellcheck source=/dev/null
. build/novalite.env
# Vagrant would otherwise ask HashiCorp's servers for a newer version.
export VAGRANT_CHECKPOINT_DISABLE=1

box_name=novalite/debian-12

# --- 1. packages --------------------------------------------------------------------------------
missing=()
for p in vagrant vagrant-libvirt; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages vagrant and vagrant-libvirt present"
fi
plugins=$(vagrant plugin list) || fail "vagrant plugin list"
grep -q '^vagrant-libvirt ' <<<"$plugins" || fail "vagrant does not load the vagrant-libvirt plugin: $plugins"
say "$(vagrant --version | head -n1), plugin $(grep '^vagrant-libvirt ' <<<"$plugins")"

# --- 2. the box ---------------------------------------------------------------------------------------
box=$(tests/images/build-vagrant-box.sh) || fail "tests/images/build-vagrant-box.sh"
[ -s "$box" ] || fail "no box file at '$box'"
say "box: $box ($(du -h "$box" | cut -f1))"

# --- 3. vagrant accepts it ----------------------------------------------------------------------------
vagrant box add --force --name "$box_name" "$box" >/dev/null || fail "vagrant box add --name $box_name $box"
listed=$(vagrant box list) || fail "vagrant box list"
line=$(grep -E "^${box_name}[[:space:]]+\(libvirt, " <<<"$listed") \
    || fail "vagrant box list does not show $box_name for provider libvirt: $listed"
say "vagrant box list: $line"
# The box's own Vagrantfile is read when a machine uses the box: `vagrant
# validate` (no VM is created) loads it under the libvirt provider.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/novalite-vagrant-validate.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
printf 'Vagrant.configure("2") do |config|\n  config.vm.box = "%s"\nend\n' "$box_name" > "$scratch/Vagrantfile"
(cd "$scratch" && VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate) >/dev/null \
    || fail "vagrant validate of a machine using $box_name (its Vagrantfile, provider libvirt)"
say "vagrant validate: a machine of $box_name with the box's libvirt defaults is valid"

# --- 4. molecule syntax ---------------------------------------------------------------------------------
# (the list first: grep -q would close the pipe early, and with pipefail
# molecule's broken pipe would count as a failure)
drivers=$(molecule drivers 2>/dev/null) || fail "molecule drivers failed"
grep -qw vagrant <<<"$drivers" \
    || fail "molecule has no vagrant driver: molecule-plugins[vagrant] (requirements-dev.txt) is not in the venv; run scripts/setup.sh"
(cd extensions && molecule syntax -s vagrant) || fail "molecule syntax -s vagrant"
# molecule's syntax step reads only the converge playbook: the scenario's
# prepare and verify get the same check
ansible-playbook -i localhost, --syntax-check extensions/molecule/vagrant/prepare.yml \
    extensions/molecule/default/verify.yml >/dev/null || fail "ansible-playbook --syntax-check of the vagrant scenario's prepare and verify"
say "ok: box built, added as $box_name (libvirt), molecule syntax -s vagrant passes; the scenario itself needs a KVM host"
