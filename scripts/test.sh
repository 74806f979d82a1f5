#!/usr/bin/env bash
# Set everything up, then run every test: unit, ansible-test sanity, and the
# integration tests against the real libvirtd with the tiny guest, the
# crash-point suite, molecule, then the slow e2e tier with a real cloud image.
# Usage (as root): bash scripts/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Each tier's time is printed when the next one starts, to see where a slow run went.
tier_start=$SECONDS
tier() {
    if [ -n "${tier_name:-}" ]; then
        echo "   ($tier_name: $((SECONDS - tier_start)) s; total $SECONDS s)"
    fi
    tier_name=$1
    tier_start=$SECONDS
    echo "== $*"
}
tier "setup"
bash "$here/scripts/setup.sh"
. "$here/build/novalite.env"
cd "$here"
# The e2e tier's Debian 12 cloud image (cached; about 2 minutes to build on a
# fresh machine) is built while the fast tiers run, and waited for before e2e.
mkdir -p build/logs
setsid bash tests/images/build-cloud-image.sh > build/logs/cloud-image.log 2>&1 < /dev/null &
image_build=$!
# a tier that fails ends the run: the build must not outlive it
trap 'kill -- "-$image_build" 2>/dev/null || true' EXIT
tier "unit tests"
python -m pytest -q tests/unit
tier "ansible-test sanity"
bash scripts/sanity.sh
tier "ansible-doc renders every module"
listed=$(ansible-doc -l novalite.compute)
echo "$listed"
for module in libvirt_instance instance_reboot instance_migrate instance_evacuate state_reconcile hypervisor_info \
        hypervisor_service placement; do
    grep -q "^novalite.compute.$module " <<<"$listed" || { echo "ansible-doc does not list $module" >&2; exit 1; }
    ansible-doc "novalite.compute.$module" > /dev/null
done
ansible-doc -t inventory -l novalite.compute | grep -q "^novalite.compute.instances "
ansible-doc -t inventory novalite.compute.instances > /dev/null
ansible-doc -t filter novalite.compute.evacuation_refusal > /dev/null
ansible-doc -t filter novalite.compute.drain_plan > /dev/null
tier "ansible-lint (production profile) on roles/ and playbooks/"
ansible-lint --profile production roles/ playbooks/
tier "antsibull: collection docs lint, changelog lint, changelog build (in a copy)"
antsibull-docs lint-collection-docs --plugin-docs build/installed/ansible_collections/novalite/compute
antsibull-changelog lint
chlog=$(mktemp -d)
cp -r galaxy.yml changelogs plugins meta "$chlog"/
(cd "$chlog" && antsibull-changelog release --version "$(sed -n 's/^version: *//p' galaxy.yml)" >/dev/null \
    && grep -q state_reconcile CHANGELOG.rst && grep -q instance_migrate CHANGELOG.rst)
rm -rf "$chlog"
tier "AWX execution environment build context (ansible-builder create)"
rm -rf build/ee-context
ansible-builder create -f meta/execution-environment.yml -c build/ee-context >/dev/null
for want in libvirt-python lxml; do
    grep -q "^$want" build/ee-context/_build/requirements.txt || { echo "EE context lacks $want" >&2; exit 1; }
done
for want in libvirt-dev qemu-utils openssh-client libvirt-devel qemu-img; do
    grep -q "^$want " build/ee-context/_build/bindep.txt || { echo "EE context lacks bindep $want" >&2; exit 1; }
done
grep -q "novalite.compute" build/ee-context/_build/requirements.yml
echo "EE context ok: build/ee-context"
tier "integration tests (real libvirtd, virt_type=$NOVALITE_VIRT_TYPE)"
python -m pytest -q --durations=10 -n 2 -m "not serial" tests/integration
tier "integration tests that restart libvirtd (alone)"
python -m pytest -q --durations=5 -m serial tests/integration
tier "crash points: every step of every operation killed for real, then playbooks/reconcile.yml (alone: restarts libvirtd)"
python -m pytest -q --durations=15 tests/crash
tier "molecule: hypervisor and instance roles on this host (converge, idempotence, verify)"
(cd extensions && molecule test)
wait "$image_build" || { echo "building the cloud image failed:" >&2; cat build/logs/cloud-image.log >&2; exit 1; }
tier "molecule on Vagrant KVM hosts: the box builds, vagrant box add accepts it, molecule syntax -s vagrant"
echo "   (the full scenario needs a KVM host: docs/molecule.md)"
bash scripts/vagrant_checks.sh
tier "e2e: a real Debian 12 cloud image (cloud-init, config drive, guest agent) through spawn, reboot,"
echo "   migration with revert, resize with confirm and a host power loss (alone: restarts libvirtd)"
python -m pytest -q --durations=5 tests/e2e
tier "demo playbook"
ansible-playbook playbooks/demo.yml -e "virt_type=$NOVALITE_VIRT_TYPE" \
    -e "image_url=file://$NOVALITE_TEST_IMAGE" -e "network=$NOVALITE_TEST_NETWORK"
tier "all tests passed"
