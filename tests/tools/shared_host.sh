#!/usr/bin/env bash
# A third hypervisor on this machine, for live migration on a shared
# instances_path: a second root libvirtd (qemu:///system) in a mount
# namespace of its own, with its own /etc/libvirt (its own host_uuid, no
# domains or networks of host A), /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt, and its own virtlogd. Its QEMU
# runs as the same user as host A's, so both hosts can use one directory;
# libvirt's ownership refcount (trusted.libvirt.security.* xattrs) is kept
# in the files, so neither daemon takes a disk away from the other.
#
# Reached at qemu+unix:///system?socket=/var/lib/novalite-hostc/run/libvirt-sock
# (from host A, for moves A -> C); host A's own sockets are bound into the
# namespace at /var/lib/novalite-hostc/a-run (for moves C -> A). Its QEMU
# takes migrations on ports 49300-49363 (host A keeps libvirt's 49152-49215).
# Same network namespace: addresses are 127.0.0.1. Its pid files are under
# $root/run, so host A's /run/libvirtd.pid names host A's daemon only.
# Idempotent.
#
#   bash tests/tools/shared_host.sh            # prints the variables to export
#   bash tests/tools/shared_host.sh --restart  # restarts host C's libvirtd (crash suite: power loss)
set -euo pipefail
root=/var/lib/novalite-hostc
sock=$root/run/libvirt-sock
uri="qemu+unix:///system?socket=$sock"

exports() {
    echo "export NOVALITE_HOSTC_URI='$uri'"
    echo "export NOVALITE_HOSTC_A_URI='qemu+unix:///system?socket=$root/a-run/libvirt-sock'"
    echo "export NOVALITE_SHARED_INSTANCES=/var/lib/novalite-shared"
}

start_libvirtd() {
    # inside host C's mount namespace (its virtlogd's): that libvirtd sees C's own /etc, /run, /var/lib
    nsenter -t "$(cat "$root/run/virtlogd.pid")" -m libvirtd -d -p "$root/run/libvirtd.pid"
}

wait_answer() {
    for _ in $(seq 100); do
        [ -S "$sock" ] && virsh -q -c "$uri" uri >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "shared_host.sh: host C's libvirtd does not answer on $sock" >&2
    return 1
}

# --restart: host C loses power in the crash suite (its libvirtd restarted; the guests are killed apart)
if [ "${1:-}" = --restart ]; then
    if [ -f "$root/run/libvirtd.pid" ] && kill "$(cat "$root/run/libvirtd.pid")" 2>/dev/null; then
        while [ -f "$root/run/libvirtd.pid" ] && kill -0 "$(cat "$root/run/libvirtd.pid")" 2>/dev/null; do sleep 0.1; done
    fi
    start_libvirtd
    wait_answer
    exit 0
fi

if [ -S "$sock" ] && virsh -q -c "$uri" uri >/dev/null 2>&1; then
    exports
    exit 0
fi
# the namespace is there (its virtlogd runs) but its libvirtd died: start it again
if [ -f "$root/run/virtlogd.pid" ] && kill -0 "$(cat "$root/run/virtlogd.pid")" 2>/dev/null; then
    start_libvirtd
    wait_answer
    exports
    exit 0
fi

install -d -m 0755 "$root" "$root/run" "$root/a-run" "$root/etc" "$root/cache" "$root/log" /var/lib/novalite-shared
# /var/lib/libvirt's directories (not their contents: those are host A's)
rsync -a --include='*/' --exclude='*' /var/lib/libvirt/ "$root/lib/"
rm -rf "$root/lib/qemu/domain-"* 2>/dev/null || true
# /etc/libvirt without host A's domain and network definitions
rsync -a --delete --exclude='qemu/*.xml' --exclude='qemu/networks/' --exclude='qemu/autostart/' \
      --exclude='storage/' --exclude='nwfilter/' /etc/libvirt/ "$root/etc/"
[ -f "$root/host_uuid" ] || cat /proc/sys/kernel/random/uuid > "$root/host_uuid"
{
    echo "unix_sock_dir = \"$root/run\""
    echo "host_uuid = \"$(cat "$root/host_uuid")\""
} >> "$root/etc/libvirtd.conf"
{
    echo 'migration_port_min = 49300'
    echo 'migration_port_max = 49363'
    # no cgroups of its own beside host A's (both would name them machine/qemu-<id>-<name>)
    echo 'cgroup_controllers = [ ]'
} >> "$root/etc/qemu.conf"

unshare --mount --propagation private bash -s <<NAMESPACE
set -eu
mount --bind /run/libvirt "$root/a-run"
mount --bind "$root/etc" /etc/libvirt
mount -t tmpfs -o mode=0755 tmpfs /run/libvirt
mount --bind "$root/lib" /var/lib/libvirt
mount --bind "$root/cache" /var/cache/libvirt
mount --bind "$root/log" /var/log/libvirt
virtlogd -d -p "$root/run/virtlogd.pid"
libvirtd -d -p "$root/run/libvirtd.pid"
NAMESPACE

wait_answer
exports
