# shellcheck shell=bash
# Sourced by tests/tools/second_host.sh and benchmarks/fleet_hosts.sh: what
# both need to make unix users of this machine into hypervisors reached over
# SSH, as real hosts are - an sshd of our own per purpose (no systemd), root
# trusting its host key, and each user's libvirtd started for good.
# Needs: sshd_dir (where configs, pid files, logs and host keys go).
: "${sshd_dir:?local_sshd.sh needs sshd_dir}"

# local_sshd NAME PORT < extra-config: an sshd of our own on 127.0.0.1:PORT
# with the settings every test sshd shares plus the lines on stdin; started
# unless it already runs with that very configuration (one started with an
# older one is replaced: sessions it has open go on). Its host key is
# written to $sshd_dir/NAME.known_hosts.
local_sshd() {
    local name=$1 listen=$2 pidfile=$sshd_dir/$1.pid config=$sshd_dir/${1}_config
    {
        cat <<CONF
Port $listen
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile $pidfile
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
MaxStartups 100:30:200
MaxSessions 100
CONF
        cat
    } > "$config.new"
    # A pid file left by an earlier boot of this machine can name a process
    # that is now something else: only an sshd run with this config counts.
    if ours "$pidfile" "$config" && ! cmp -s "$config.new" "$config"; then
        local old
        old=$(cat "$pidfile")
        kill "$old"
        while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
    fi
    mv "$config.new" "$config"
    if ! ours "$pidfile" "$config"; then
        rm -f "$pidfile"
        /usr/sbin/sshd -f "$config" -E "$sshd_dir/$name.log"
    fi
    for _ in $(seq 100); do
        ssh-keyscan -p "$listen" -t ed25519 127.0.0.1 > "$sshd_dir/$name.known_hosts" 2>/dev/null \
            && [ -s "$sshd_dir/$name.known_hosts" ] && return 0
        sleep 0.1
    done
    echo "local_sshd: the test sshd '$name' does not answer on 127.0.0.1:$listen; its log:" >&2
    cat "$sshd_dir/$name.log" >&2 || true
    return 1
}

# ours PIDFILE CONFIG: the pid file names a live sshd started with CONFIG.
ours() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-f $2"
}

# root_trusts NAME PORT: root's known_hosts holds the host key local_sshd
# NAME wrote for 127.0.0.1:PORT (and no older one for that port).
root_trusts() {
    touch /root/.ssh/known_hosts
    grep -v "^\[127.0.0.1\]:$2 " /root/.ssh/known_hosts > /root/.ssh/known_hosts.tmp || true
    cat "$sshd_dir/$1.known_hosts" >> /root/.ssh/known_hosts.tmp
    mv /root/.ssh/known_hosts.tmp /root/.ssh/known_hosts
}

# user_libvirtd KEY PORT USER [RESTART]: USER's own libvirtd (qemu:///session),
# started over SSH for good. The one libvirt spawns on a first client
# connection exits after 120 idle seconds (--timeout=120), long before the
# tests need it: such a short-lived one is replaced, and with RESTART=1 any
# one (its configuration changed).
user_libvirtd() {
    ssh -o BatchMode=yes -i "$1" -p "$2" "$3@127.0.0.1" "RESTART=${4:-0}" bash -s <<'REMOTE'
set -eu
for pid in $(pgrep -u "$(id -u)" -x libvirtd || true); do
    if [ "$RESTART" = 1 ] || tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- '--timeout'; then
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
done
pgrep -u "$(id -u)" -x libvirtd >/dev/null || /usr/sbin/libvirtd -d
for _ in $(seq 50); do virsh -q -c qemu:///session list --all >/dev/null 2>&1 && exit 0; sleep 0.2; done
exit 1
REMOTE
}
