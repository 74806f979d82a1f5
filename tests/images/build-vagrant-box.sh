#!/usr/bin/env bash
# Build the Vagrant box (libvirt provider) that the molecule "vagrant" scenario
# boots as its hypervisor VM - no box can be downloaded on these machines, so it
# is made from the project's own Debian 12 cloud image:
#
#   tests/images/build-vagrant-box.sh [--out FILE]
#   vagrant box add --force --name novalite/debian-12 "$(tests/images/build-vagrant-box.sh)"
#
#   1. build-cloud-image.sh --customize vagrant-box-hook.sh --name debian-12-vagrant:
#      the cloud image plus the `vagrant` user (passwordless sudo, Vagrant's
#      insecure public key taken from the installed Debian package vagrant)
#      and SSH host keys on first boot (cached like the plain cloud image);
#   2. a tar (uncompressed: the qcow2 inside is compressed already) of
#      box.img (that qcow2), metadata.json (provider libvirt, format qcow2,
#      virtual_size in GiB rounded up) and a Vagrantfile with the box's
#      libvirt defaults: driver $NOVALITE_VAGRANT_DRIVER (default kvm), 2 GiB,
#      2 vCPUs, virtio disk and NIC, the disk grown to 8 GiB.
#
# The box is cached as ${NOVALITE_CACHE:-$HOME/.cache/novalite}/debian-12-vagrant-<hash>.box,
# the hash covering this script and the image's cache name (which covers the
# hook, the cloud image script and its package versions). The path is printed
# on stdout; progress goes to stderr. Needs the Debian package vagrant (for
# the key) and the cloud image's tools (scripts/setup.sh installs those).
set -euo pipefail

usage() { echo "usage: $0 [--out FILE]" >&2; exit 2; }
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
        *) usage ;;
    esac
done

log() { echo "build-vagrant-box: $*" >&2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
hook="$here/vagrant-box-hook.sh"

for tool in qemu-img tar sha256sum dpkg-query; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done
if ! dpkg-query -W -f='${Status}' vagrant 2>/dev/null | grep -q "install ok installed"; then
    log "the Debian package vagrant is not installed (the box's insecure key comes from it):" \
        "apt-get install --no-install-recommends vagrant vagrant-libvirt, or run scripts/vagrant_checks.sh"
    exit 1
fi

# --- 1. the image ------------------------------------------------------------------------------
image=$("$here/build-cloud-image.sh" --customize "$hook" --name debian-12-vagrant)
[ -s "$image" ] || { log "build-cloud-image.sh gave no image ($image)"; exit 1; }

# --- 2. the box's files ----------------------------------------------------------------------------
virtual_bytes=$(qemu-img info --output=json "$image" | sed -n 's/^ *"virtual-size": *\([0-9]*\).*/\1/p' | head -n1)
[ -n "$virtual_bytes" ] || { log "qemu-img info reports no virtual size for $image"; exit 1; }
gib=$((1024 * 1024 * 1024))
virtual_gib=$(((virtual_bytes + gib - 1) / gib))

metadata=$(printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d}' "$virtual_gib")
vagrantfile=$(cat <<'RUBY'
# Defaults of the novalite Debian 12 box (libvirt provider). The project's
# Vagrantfile (molecule's, for one) is read after this one and overrides them.
Vagrant.configure("2") do |config|
  # The image has neither an NFS client nor rsync: nothing is synced.
  config.vm.synced_folder ".", "/vagrant", disabled: true

  config.vm.provider :libvirt do |libvirt|
    # kvm on a KVM host; NOVALITE_VAGRANT_DRIVER=qemu for TCG emulation (slow).
    libvirt.driver = ENV.fetch("NOVALITE_VAGRANT_DRIVER", "kvm")
    libvirt.memory = 2048
    libvirt.cpus = 2
    libvirt.disk_bus = "virtio"
    libvirt.nic_model_type = "virtio"
    # GiB; cloud-init's growpart and resizefs grow the root filesystem (the
    # image's last partition) into it on the first boot.
    libvirt.machine_virtual_size = 8
  end
end
RUBY
)

# --- 3. cache key and packing ---------------------------------------------------------------------
key=$( (cat "$self"; basename "$image"; echo "$metadata"; echo "$vagrantfile") | sha256sum | cut -c1-12)
cache="${NOVALITE_CACHE:-$HOME/.cache/novalite}"
mkdir -p "$cache"
cached="$cache/debian-12-vagrant-$key.box"
[ -n "$out" ] || out="$cached"
if [ -s "$cached" ]; then
    log "cached: $cached"
else
    # staged next to the cache, so box.img can be a hard link to the image
    stage=$(mktemp -d "$cache/.vagrant-box.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    ln "$image" "$stage/box.img" 2>/dev/null || cp "$image" "$stage/box.img"
    printf '%s\n' "$metadata" > "$stage/metadata.json"
    printf '%s\n' "$vagrantfile" > "$stage/Vagrantfile"
    tar --create --file "$stage/box.tar" --directory "$stage" \
        --owner=0 --group=0 --numeric-owner --mode=u+rw,go+r \
        metadata.json Vagrantfile box.img
    listed=$(tar --list --file "$stage/box.tar" | LC_ALL=C sort | tr '\n' ' ')
    [ "$listed" = "Vagrantfile box.img metadata.json " ] || { log "the box holds: $listed"; exit 1; }
    mv "$stage/box.tar" "$cached"
    # earlier boxes are stale now
    find "$cache" -maxdepth 1 -name 'debian-12-vagrant-*.box' ! -name "$(basename "$cached")" -delete
    log "built $cached ($(du -h "$cached" | cut -f1); virtual_size $virtual_gib GiB, from $(basename "$image"))"
fi
[ "$out" = "$cached" ] || cp "$cached" "$out"
echo "$out"
