#!/usr/bin/env bash
# Build a Debian 12 cloud image, equivalent to the official "genericcloud"
# one, from Debian packages only (these machines cannot download a prebuilt
# cloud image):
#
#   tests/images/build-cloud-image.sh [--out FILE] [--customize HOOK --name NAME]
#
# --customize HOOK runs the executable HOOK with the root filesystem tree as
# its argument after this script's own configuration (the Vagrant box uses it
# to add its user); --name NAME names such a variant's cache entry.
#
#   * mmdebstrap makes the root filesystem tree: systemd, cloud-init (the
#     ConfigDrive datasource first), openssh-server, qemu-guest-agent,
#     cloud-guest-utils (growpart), ifupdown + DHCP client, the cloud kernel;
#   * `mkfs.ext4 -d` turns the tree into an ext4 filesystem without mounting it;
#   * the disk is MBR-partitioned: partition 1 is a small FAT filesystem with
#     SYSLINUX (`mkfs.vfat --offset`, `syslinux --offset`, files written with
#     mtools) holding the kernel and initramfs; partition 2, the LAST one, is the
#     root filesystem, so cloud-init's growpart can grow it into a larger disk;
#   * serial console on ttyS0 (kernel, systemd, cloud-init, a getty);
#   * converted to a compressed qcow2 (about 160 MB; 1.5 GiB virtual).
#
# Nothing is loop-mounted and no block device is needed, but it runs as root
# (mmdebstrap's root mode, chroot, device nodes in the tree). The result is
# cached as ${NOVALITE_CACHE:-$HOME/.cache/novalite}/debian-12-cloud-<hash>.qcow2,
# the hash covering this script and the candidate versions of the packages
# that matter, so it is rebuilt only when one of those changes. The path is
# printed on stdout; progress goes to stderr.
set -euo pipefail

out=""
extra_hook=""
name=debian-12-cloud
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --customize) extra_hook=$(realpath "$2"); shift 2 ;;
        --name) name="$2"; shift 2 ;;
        *) echo "usage: $0 [--out FILE] [--customize HOOK --name NAME]" >&2; exit 2 ;;
    esac
done
case "$name" in *[!a-zA-Z0-9._-]*|"") echo "build-cloud-image: bad --name: $name" >&2; exit 2 ;; esac
if [ -n "$extra_hook" ] && [ "$name" = debian-12-cloud ]; then
    echo "build-cloud-image: --customize needs a --name of its own for the variant" >&2; exit 2
fi
if [ -n "$extra_hook" ] && [ ! -x "$extra_hook" ]; then
    echo "build-cloud-image: --customize $extra_hook is not an executable file" >&2; exit 2
fi

log() { echo "build-cloud-image: $*" >&2; }

packages=(systemd-sysv udev dbus cloud-init openssh-server qemu-guest-agent cloud-guest-utils fdisk
          linux-image-cloud-amd64 initramfs-tools e2fsprogs ifupdown isc-dhcp-client iproute2 netbase
          sudo procps)
# The disk layout: 1 MiB gap for the MBR, a 64 MiB FAT boot partition, the root
# filesystem filling the rest of a 1.5 GiB disk.
boot_start_mib=1
boot_mib=64
disk_mib=1536
root_uuid=6a1b2c3d-0000-4e5f-8a9b-5ca1ab1ec0de   # fixed: the image is reproducible in layout

for tool in mmdebstrap apt-cache mkfs.ext4 mkfs.vfat syslinux mcopy sfdisk qemu-img; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool (run scripts/setup.sh first)"; exit 1; }
done

# --- cache key: this script + the versions apt would install ------------------------
versions=$(apt-cache policy linux-image-cloud-amd64 cloud-init systemd openssh-server qemu-guest-agent \
           cloud-guest-utils 2>/dev/null | sed -n 's/^ *Candidate: *//p' | tr '\n' ' ')
tree_key=$( (cat "$0"; echo "$versions") | sha256sum | cut -c1-12)
key=$( (echo "$tree_key"; [ -z "$extra_hook" ] || cat "$extra_hook") | sha256sum | cut -c1-12)
cache="${NOVALITE_CACHE:-$HOME/.cache/novalite}"
mkdir -p "$cache"
cached="$cache/$name-$key.qcow2"
# The root filesystem tree is cached too (a tar, ~400 MB), so that variants
# (--customize) do not run mmdebstrap again; it is keyed like the image
# (this script and the versions), so editing the script rebuilds both.
tree="$cache/debian-12-tree-$tree_key.tar"
[ -n "$out" ] || out="$cached"
if [ -s "$cached" ]; then
    log "cached: $cached"
    [ "$out" = "$cached" ] || cp "$cached" "$out"
    echo "$out"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/novalite-cloud-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

# --- 1. root filesystem tree ---------------------------------------------------------------
# The customize hook runs on the finished tree (as "$1"): it configures
# what the official image configures and removes what makes every clone the same.
cat > "$work/customize.sh" <<EOF
#!/bin/sh
set -eu
r="\$1"
echo 'UUID=$root_uuid / ext4 rw,discard,errors=remount-ro 0 1' > "\$r/etc/fstab"
: > "\$r/etc/machine-id"
rm -f "\$r/var/lib/dbus/machine-id" "\$r/etc/hostname" "\$r"/etc/ssh/ssh_host_*
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' > "\$r/etc/network/interfaces"
mkdir -p "\$r/etc/cloud/cloud.cfg.d"
cat > "\$r/etc/cloud/cloud.cfg.d/01_novalite_datasource.cfg" <<'CFG'
# The config drive (label config-2) is where this image looks first, as Nova's
# libvirt driver provides it; nothing else is probed.
datasource_list: [ ConfigDrive, None ]
CFG
cat > "\$r/etc/cloud/cloud.cfg.d/02_novalite_console.cfg" <<'CFG'
# Fewer host key types: key generation is slow under TCG.
ssh_genkeytypes: [ed25519, ecdsa]
# C.UTF-8 ships with libc: nothing to generate at first boot.
locale: C.UTF-8
CFG
# A small initramfs: only what a virtio/IDE guest needs to find its root.
printf 'MODULES=list\nCOMPRESS=gzip\n' > "\$r/etc/initramfs-tools/conf.d/novalite.conf"
printf '%s\n' virtio_pci virtio_blk virtio_scsi sd_mod ata_piix ext4 crc32c_generic > "\$r/etc/initramfs-tools/modules"
chroot "\$r" update-initramfs -u -k all >/dev/null
# Timers that only make sense on a long-lived machine slow a TCG boot down.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
            getty@tty1.service; do
    ln -sf /dev/null "\$r/etc/systemd/system/\$unit"
done
rm -rf "\$r/var/lib/apt/lists"/* "\$r/var/cache/apt"/*.bin "\$r/var/cache/apt/archives"/*.deb
rm -rf "\$r/usr/share/doc"/* "\$r/usr/share/man"/* "\$r/usr/share/info"/* "\$r/usr/share/locale"/*
EOF
chmod 0755 "$work/customize.sh"

if [ ! -s "$tree" ]; then
    log "mmdebstrap: Debian 12 with ${packages[*]}"
    mmdebstrap --quiet --variant=apt --mode=root \
        --include="$(IFS=,; echo "${packages[*]}")" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook="$work/customize.sh \"\$1\"" \
        bookworm "$work/tree.tar" >&2
    mv "$work/tree.tar" "$tree.tmp"   # the cache may be on another filesystem: copy, then rename
    mv "$tree.tmp" "$tree"
    find "$cache" -maxdepth 1 -name 'debian-12-tree-*.tar' ! -name "$(basename "$tree")" -delete
else
    log "root filesystem tree cached: $tree"
fi
mkdir "$rootfs"
tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -xpf "$tree" \
    || { log "the cached tree $tree does not extract: removed, run again"; rm -f "$tree"; exit 1; }
if [ -n "$extra_hook" ]; then
    log "customize: $extra_hook"
    "$extra_hook" "$rootfs" >&2
fi

kernels=("$rootfs"/boot/vmlinuz-*)
initrds=("$rootfs"/boot/initrd.img-*)
kernel=${kernels[0]}
initrd=${initrds[0]}
log "kernel $(basename "$kernel"), initramfs $(du -h "$initrd" | cut -f1), tree $(du -sh "$rootfs" | cut -f1)"

# --- 2. root filesystem, the disk, the boot partition ---------------------------------------
root_start_mib=$((boot_start_mib + boot_mib))
root_mib=$((disk_mib - root_start_mib))
mkfs.ext4 -q -F -L cloudimg-rootfs -U "$root_uuid" -d "$rootfs" "$work/root.img" "${root_mib}M" >&2

disk="$work/disk.raw"
truncate -s "${disk_mib}M" "$disk"
sfdisk -q "$disk" <<EOF
label: dos
start=${boot_start_mib}MiB, size=${boot_mib}MiB, type=e, bootable
start=${root_start_mib}MiB, type=83
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/root.img" of="$disk" bs=1M seek="$root_start_mib" conv=notrunc,sparse status=none

boot_offset=$((boot_start_mib * 1024 * 1024))
mkfs.vfat -F 16 -n NLBOOT --offset $((boot_offset / 512)) "$disk" $((boot_mib * 1024)) >/dev/null 2>&1
syslinux --offset "$boot_offset" --install "$disk"
cat > "$work/syslinux.cfg" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 1
LABEL debian
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8
EOF
mcopy -i "$disk@@$boot_offset" "$kernel" ::vmlinuz
mcopy -i "$disk@@$boot_offset" "$initrd" ::initrd.img
mcopy -i "$disk@@$boot_offset" "$work/syslinux.cfg" ::syslinux.cfg

qemu-img convert -q -c -f raw -O qcow2 "$disk" "$work/disk.qcow2"
mv "$work/disk.qcow2" "$cached.tmp"
mv "$cached.tmp" "$cached"
# Earlier builds of the same name are stale now.
find "$cache" -maxdepth 1 -name "$name-*.qcow2" ! -name "$(basename "$cached")" -delete
log "built $cached ($(du -h "$cached" | cut -f1))"
[ "$out" = "$cached" ] || cp "$cached" "$out"
echo "$out"
