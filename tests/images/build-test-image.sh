#!/usr/bin/env bash
# Build the tiny bootable test guest used by the integration tests and the demo.
#
#   tests/images/build-test-image.sh [--variant acpi|noacpi] [--out FILE]
#
# Made from Debian packages only (nothing is mounted, no root filesystem image):
#   * linux-image-cloud-amd64 kernel + a handful of its modules,
#   * a busybox-static initramfs whose init prints markers on ttyS0,
#   * a FAT "superfloppy" disk (no partition table) with SYSLINUX installed by
#     `syslinux --install`, files copied with mtools,
#   * converted to qcow2 with qemu-img.
#
# Guest behaviour (read by the tests from a <serial type='file'> log):
#   GUEST-BOOT                      init started
#   GUEST-INSTANCE-UUID=<uuid>      uuid read from a config-2 config drive, if attached
#   GUEST-DISK <dev> <bytes>        size of every virtio disk
#   GUEST-MEM-KB <kB> / GUEST-CPUS <n>
#   GUEST-READY                     boot finished
#   GUEST-POWEROFF                  ACPI power button pressed (variant "acpi" only)
# With instance metadata novalite_test_counter (the live-migration guest):
#   GUEST-DATA <sha256>             novalite_test_disk_mb MiB of random data on vdb
#                                   (written at offset 1 MiB on first boot), read back
#   GUEST-DIRTY-MB <n>              novalite_test_dirty_mb MiB of memory filled (tmpfs)
#   GUEST-TICK <n>                  every second from 1: restarts only if the guest does
#   GUEST-DATA-CHECK <n> <sha256>   the data read again every novalite_test_check_every ticks
#
# The "noacpi" variant does not run acpid, so it ignores the power button: it
# is the guest that forces a hard-reboot/destroy fallback.
#
# The result is cached: ${NOVALITE_CACHE:-$HOME/.cache/novalite}/test-guest-<variant>-<hash>.qcow2,
# the hash covering this script, so editing it rebuilds. The path is printed on stdout.
set -euo pipefail

variant=acpi
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "usage: $0 [--variant acpi|noacpi] [--out FILE]" >&2; exit 2 ;;
    esac
done
case "$variant" in acpi|noacpi) ;; *) echo "unknown variant: $variant" >&2; exit 2 ;; esac

log() { echo "build-test-image: $*" >&2; }

cache="${NOVALITE_CACHE:-$HOME/.cache/novalite}"
mkdir -p "$cache"
script_hash=$(sha256sum "$0" | cut -c1-12)
cached="$cache/test-guest-$variant-$script_hash.qcow2"
if [ -z "$out" ]; then
    out="$cached"
fi
if [ -s "$cached" ]; then
    [ "$out" = "$cached" ] || cp "$cached" "$out"
    echo "$out"
    exit 0
fi

for tool in apt-get dpkg-deb modinfo cpio gzip mkfs.vfat syslinux mcopy qemu-img; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool (run scripts/setup.sh first)"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/novalite-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# --- packages, unpacked without installing --------------------------------
log "downloading kernel and busybox packages"
chmod 0777 "$work"   # apt-get download drops privileges to _apt
apt-get download -q linux-image-cloud-amd64 busybox-static >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get download -q linux-image-cloud-amd64 busybox-static >/dev/null; }
# linux-image-cloud-amd64 is a metapackage: its Depends names the real kernel package.
kpkg=$(dpkg-deb -f linux-image-cloud-amd64_*.deb Depends | sed -e 's/[ (,].*//')
apt-get download -q "$kpkg" >/dev/null 2>&1
mkdir kernel busybox
dpkg-deb -x "$kpkg"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
kver=$(ls kernel/lib/modules)
kmods="kernel/lib/modules/$kver/kernel"

# --- initramfs --------------------------------------------------------------
root=initramfs
mkdir -p "$root"/{bin,sbin,dev,proc,sys,mnt,tmp,etc/acpi/PWRF,lib/modules}
cp busybox/bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
ln -s ../bin/busybox "$root/sbin/init"
ln -s bin/busybox "$root/init"   # the kernel runs /init from an initramfs

# Kernel modules, with their dependencies first (resolved by modinfo).
declare -A seen=()
order=()
add_module() {
    local name="$1" file dep
    [ -n "${seen[$name]:-}" ] && return 0
    seen[$name]=1
    file=$(find "$kmods" -name "$name.ko" -print -quit)
    [ -n "$file" ] || { log "module $name not found in $kver"; exit 1; }
    for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
        add_module "$dep"
    done
    cp "$file" "$root/lib/modules/$name.ko"
    order+=("$name")
}
for m in button evdev ata_piix virtio_pci virtio_blk virtio_scsi sr_mod isofs; do
    add_module "$m"
done
printf '%s\n' "${order[@]}" > "$root/etc/modules"

cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/rcS
::shutdown:/bin/sh -c 'echo GUEST-SHUTDOWN > /dev/ttyS0'
::ctrlaltdel:/bin/busybox reboot
EOF

cat > "$root/etc/rcS" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "$*" > /dev/ttyS0; }
say GUEST-BOOT
while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null; done < /etc/modules

if [ -f /etc/acpi-enabled ]; then
    acpid -c /etc/acpi -l /tmp/acpid.log
fi

# Devices probe asynchronously: give the IDE cdrom up to ~3 s to appear.
n=0
while [ $n -lt 30 ] && [ ! -b /dev/sr0 ]; do sleep 0.1; n=$((n + 1)); done
cd_dev=$(findfs LABEL=config-2 2>/dev/null)
if [ -z "$cd_dev" ] && [ -b /dev/sr0 ]; then cd_dev=/dev/sr0; fi
if [ -n "$cd_dev" ] && mount -t iso9660 -o ro "$cd_dev" /mnt 2>/dev/null; then
    md=/mnt/openstack/latest/meta_data.json
    if [ -f "$md" ]; then
        uuid=$(sed -n 's/.*"uuid" *: *"\([^"]*\)".*/\1/p' "$md")
        say "GUEST-INSTANCE-UUID=$uuid"
        cp "$md" /tmp/meta_data.json
    fi
    umount /mnt
fi

for d in /sys/block/vd*; do
    [ -e "$d/size" ] || continue
    say "GUEST-DISK ${d##*/} $(( $(cat "$d/size") * 512 ))"
done
say "GUEST-MEM-KB $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
say "GUEST-CPUS $(grep -c ^processor /proc/cpuinfo)"
say GUEST-READY

# The live-migration guest (instance metadata novalite_test_counter): marker
# data on the second disk, memory filled, and a counter that never restarts
# unless the guest does.
meta() { sed -n "s/.*\"$1\" *: *\"\([0-9]*\)\".*/\1/p" /tmp/meta_data.json 2>/dev/null; }
if [ -n "$(meta novalite_test_counter)" ]; then
    data_mb=$(meta novalite_test_disk_mb)
    if [ -n "$data_mb" ] && [ -b /dev/vdb ]; then
        if [ "$(dd if=/dev/vdb bs=16 count=1 2>/dev/null)" != "NOVALITE-MARKER1" ]; then
            dd if=/dev/urandom of=/dev/vdb bs=1M seek=1 count="$data_mb" conv=fsync 2>/dev/null
            printf NOVALITE-MARKER1 | dd of=/dev/vdb conv=fsync 2>/dev/null
        fi
        sync; echo 3 > /proc/sys/vm/drop_caches
        say "GUEST-DATA $(dd if=/dev/vdb bs=1M skip=1 count="$data_mb" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    fi
    dirty_mb=$(meta novalite_test_dirty_mb)
    if [ -n "$dirty_mb" ]; then
        mkdir -p /dirty && mount -t tmpfs -o size=$((dirty_mb + 8))m tmpfs /dirty
        dd if=/dev/urandom of=/dirty/fill bs=1M count="$dirty_mb" 2>/dev/null
        say "GUEST-DIRTY-MB $dirty_mb"
    fi
    every=$(meta novalite_test_check_every)
    i=0
    while :; do
        i=$((i + 1))
        say "GUEST-TICK $i"
        if [ -n "$data_mb" ] && [ -n "$every" ] && [ "$every" -gt 0 ] && [ $((i % every)) = 0 ]; then
            echo 3 > /proc/sys/vm/drop_caches
            say "GUEST-DATA-CHECK $i $(dd if=/dev/vdb bs=1M skip=1 count="$data_mb" 2>/dev/null | sha256sum | cut -d' ' -f1)"
        fi
        sleep 1
    done &
fi
EOF
chmod 0755 "$root/etc/rcS"

cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo GUEST-POWEROFF > /dev/ttyS0
poweroff
EOF
chmod 0755 "$root/etc/acpi/PWRF/00000080"
if [ "$variant" = acpi ]; then
    touch "$root/etc/acpi-enabled"
fi

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -9 > initrd.gz

# --- FAT superfloppy with SYSLINUX ----------------------------------------------
cat > syslinux.cfg <<'EOF'
DEFAULT linux
PROMPT 0
TIMEOUT 1
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200 quiet panic=1
EOF
kbytes=$(du -k --apparent-size "kernel/boot/vmlinuz-$kver" | cut -f1)
ibytes=$(du -k --apparent-size initrd.gz | cut -f1)
size_kb=$(( (kbytes + ibytes + 2048) / 1024 * 1024 + 1024 ))
mkfs.vfat -C -n NOVALITE disk.raw "$size_kb" >/dev/null
syslinux --install disk.raw
mcopy -i disk.raw "kernel/boot/vmlinuz-$kver" ::vmlinuz
mcopy -i disk.raw initrd.gz ::initrd.gz
mcopy -i disk.raw syslinux.cfg ::syslinux.cfg

qemu-img convert -q -f raw -O qcow2 disk.raw disk.qcow2
mv disk.qcow2 "$cached.tmp"
mv "$cached.tmp" "$cached"
log "built $variant test image ($kver): $cached"
[ "$out" = "$cached" ] || cp "$cached" "$out"
echo "$out"
