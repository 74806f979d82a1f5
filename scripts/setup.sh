#!/usr/bin/env bash
# Prepare this machine (Debian 12, as root) to run novalite.compute for real:
#   1. Debian packages (libvirt, QEMU, qemu-img, image and config-drive tools)
#   2. virtlogd + libvirtd started if not running (no systemd needed)
#   3. virt_type decided: kvm when the CPU has VT-x/AMD-V, else qemu (TCG)
#   4. a virtualenv (.venv) with ansible-core, libvirt-python, lxml, molecule, pytest
#   5. the collection built with ansible-galaxy and installed from the tarball
#   6. the tiny test guest image built (tests/images/build-test-image.sh)
#   7. an isolated libvirt network "novalite-test" (no <forward>)
#   8. host B (tests/tools/second_host.sh) and host C (tests/tools/shared_host.sh) for the migration tests
# Writes build/novalite.env for the demo and the tests. Safe to run again.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
say() { echo "setup: $*"; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (libvirt qemu:///system, apt-get)" >&2; exit 1; }

# --- 1. packages -------------------------------------------------------------------
packages=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
          qemu-system-x86 qemu-utils genisoimage mtools syslinux syslinux-common dosfstools
          cpio kmod e2fsprogs util-linux python3-venv python3-dev gcc pkg-config git curl shellcheck
          openssh-server openssh-client rsync python3-libvirt python3-lxml mmdebstrap fdisk dnsmasq-base)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present"
fi

# --- 2. daemons ------------------------------------------------------------------------
# Without udev, /dev/kvm stays root-only; libvirt then sees KVM as unavailable
# to the QEMU user and re-probes QEMU on every call (minutes per domain start).
# Debian's udev rule gives it to group kvm, mode 0660: do the same.
if [ -c /dev/kvm ] && [ "$(stat -c %G /dev/kvm)" != kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    say "/dev/kvm handed to group kvm (as Debian's udev rule does)"
fi
# Host A's daemons by their pid files (/run/*.pid): host C's (tests/tools/shared_host.sh)
# keep theirs elsewhere and do not count.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running /run/virtlogd.pid || { virtlogd -d; say "started virtlogd"; }
if ! running /run/libvirtd.pid; then
    libvirtd -d
    say "started libvirtd"
fi
for _ in $(seq 1 50); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.2; done
[ -S /run/libvirt/libvirt-sock ] || { echo "setup: libvirtd did not come up" >&2; exit 1; }

# --- 3. virt_type ------------------------------------------------------------------------
if [ -n "${NOVALITE_VIRT_TYPE:-}" ]; then
    virt_type=$NOVALITE_VIRT_TYPE
    reason="NOVALITE_VIRT_TYPE is set"
elif [ -d /sys/module/kvm_pvm ]; then
    virt_type=qemu
    reason="/dev/kvm is a nested PVM device (kvm_pvm) that cannot run stock guest kernels"
elif grep -qwE 'vmx|svm' /proc/cpuinfo && [ -c /dev/kvm ]; then
    virt_type=kvm
    reason="the CPU has hardware virtualisation and /dev/kvm exists"
else
    virt_type=qemu
    reason="no VT-x/AMD-V or no /dev/kvm"
fi
say "virt_type=$virt_type ($reason); guests run under $([ "$virt_type" = kvm ] && echo KVM || echo 'TCG emulation')"

# --- 4. virtualenv -------------------------------------------------------------------------
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-64)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "creating virtualenv $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r requirements-dev.txt
    echo "$want" > "$stamp"
else
    say "virtualenv up to date"
fi
export PATH="$venv/bin:$PATH"

# --- 5. the collection, built and installed from its tarball --------------------------------
mkdir -p build
collections="$here/build/installed"
rm -f build/novalite-compute-*.tar.gz
ansible-galaxy collection build --force --output-path build . >/dev/null
tarball=$(ls build/novalite-compute-*.tar.gz)
ANSIBLE_COLLECTIONS_PATH="$collections" ansible-galaxy collection install --force -p "$collections" "$tarball" >/dev/null
say "installed $(basename "$tarball") into $collections"

# --- 6. test guest image ------------------------------------------------------------------------
image=$(tests/images/build-test-image.sh --variant acpi)
image_noacpi=$(tests/images/build-test-image.sh --variant noacpi)
mkdir -p /var/lib/novalite/images
install -m 0644 "$image" /var/lib/novalite/images/tiny.qcow2
install -m 0644 "$image_noacpi" /var/lib/novalite/images/tiny-noacpi.qcow2
say "test guest image: /var/lib/novalite/images/tiny.qcow2"

# --- 7. isolated test network ----------------------------------------------------------------------
"$venv/bin/python" tests/tools/ensure_network.py novalite-test nlbr-test0

# --- 8. a second hypervisor for migration tests (user novalite-b, qemu:///session, SSH) -------
hostb_env=$(bash tests/tools/second_host.sh)
say "second test hypervisor: novalite-b@127.0.0.1:2222 (qemu:///session)"

# --- 9. a third hypervisor sharing an instances_path with host A (live migration on shared storage) ---
hostc_env=$(bash tests/tools/shared_host.sh)
say "third test hypervisor: a second root libvirtd in its own mount namespace (shared instances_path)"

cat > build/novalite.env <<EOF
export PATH="$venv/bin:\$PATH"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python"
export NOVALITE_VIRT_TYPE="$virt_type"
export NOVALITE_TEST_IMAGE="/var/lib/novalite/images/tiny.qcow2"
export NOVALITE_TEST_IMAGE_NOACPI="/var/lib/novalite/images/tiny-noacpi.qcow2"
export NOVALITE_TEST_NETWORK="novalite-test"
$hostb_env
$hostc_env
EOF
say "ready (environment in build/novalite.env)"
