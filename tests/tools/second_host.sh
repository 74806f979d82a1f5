#!/usr/bin/env bash
# A second hypervisor on this machine, for the migration tests: the unix
# user novalite-b with its own libvirt daemon (qemu:///session), its own
# instances_path and domain namespace, reachable from root only over SSH on
# 127.0.0.1:2222 (its own sshd, no systemd needed); host A (root) takes B's
# migration key on 127.0.0.1:2223 for moves back. Idempotent.
#
#   bash tests/tools/second_host.sh        # prints the variables to export
set -euo pipefail
user=novalite-b
home=/var/lib/novalite-hostb
port=2222
key=/root/.ssh/novalite_migration_ed25519
sshd_dir=/var/lib/novalite-sshd

if ! id "$user" >/dev/null 2>&1; then
    useradd --system --home-dir "$home" --create-home --shell /bin/bash "$user"
fi
# No password, but not locked: sshd (without PAM) refuses locked accounts.
usermod -p '*' "$user"
install -d -m 0755 -o "$user" -g "$user" "$home" "$home/instances" "$home/.ssh"
chmod 0700 "$home/.ssh"
# The user's QEMU must be able to use /dev/kvm only where root's can; TCG needs nothing.

install -d -m 0700 /root/.ssh
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C novalite-migration -f "$key"
install -m 0600 -o "$user" -g "$user" "$key.pub" "$home/.ssh/authorized_keys"

install -d -m 0755 "$sshd_dir" /run/sshd
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -A

# local_sshd NAME PORT < extra-config: an sshd of our own on 127.0.0.1:PORT
# (no systemd needed) with the settings both test hosts share plus the lines
# on stdin; started unless it already runs. Its host key is written to
# $sshd_dir/NAME.known_hosts.
local_sshd() {
    local name=$1 listen=$2 pidfile=$sshd_dir/$1.pid
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
MaxStartups 50:30:100
MaxSessions 50
CONF
        cat
    } > "$sshd_dir/${name}_config"
    # A pid file left by an earlier boot of this machine can name a process
    # that is now something else: only an sshd run with this config counts.
    if ! ours "$pidfile" "$sshd_dir/${name}_config"; then
        rm -f "$pidfile"
        /usr/sbin/sshd -f "$sshd_dir/${name}_config" -E "$sshd_dir/$name.log"
    fi
    for _ in $(seq 100); do
        ssh-keyscan -p "$listen" -t ed25519 127.0.0.1 > "$sshd_dir/$name.known_hosts" 2>/dev/null \
            && [ -s "$sshd_dir/$name.known_hosts" ] && return 0
        sleep 0.1
    done
    echo "second_host.sh: the test sshd '$name' does not answer on 127.0.0.1:$listen; its log:" >&2
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

local_sshd sshd "$port" <<CONF
AllowUsers $user
PermitRootLogin no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
touch /root/.ssh/known_hosts
grep -v '^\[127.0.0.1\]:2222 ' /root/.ssh/known_hosts > /root/.ssh/known_hosts.tmp || true
cat "$sshd_dir/sshd.known_hosts" >> /root/.ssh/known_hosts.tmp
mv /root/.ssh/known_hosts.tmp /root/.ssh/known_hosts

# Its QEMU takes live migrations on ports of its own (host A keeps libvirt's
# 49152-49215, host C 49300-49363): all three share one network namespace.
install -d -m 0700 -o "$user" -g "$user" "$home/.config" "$home/.config/libvirt"
printf 'migration_port_min = 49400\nmigration_port_max = 49463\n' > "$home/.config/libvirt/qemu.conf.new"
if ! cmp -s "$home/.config/libvirt/qemu.conf.new" "$home/.config/libvirt/qemu.conf"; then
    install -m 0600 -o "$user" -g "$user" "$home/.config/libvirt/qemu.conf.new" "$home/.config/libvirt/qemu.conf"
    restart_b=1
fi
rm -f "$home/.config/libvirt/qemu.conf.new"

# The user's own libvirtd, started for good: the one libvirt spawns on the
# first client connection exits after 120 idle seconds (--timeout=120), long
# before the migration tests run. Replace such a short-lived one.
ssh -o BatchMode=yes -i "$key" -p "$port" "$user@127.0.0.1" "RESTART=${restart_b:-0}" bash -s <<'REMOTE'
set -eu
for pid in $(pgrep -u "$(id -u)" -x libvirtd || true); do
    if [ "$RESTART" = 1 ] || tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- '--timeout'; then
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
done
pgrep -u "$(id -u)" -x libvirtd >/dev/null || /usr/sbin/libvirtd -d
virsh -q -c qemu:///session list --all >/dev/null
REMOTE

# Host A's side, for migrations B -> A: a second sshd on 127.0.0.1:2223 that
# admits only root, only with host B's own migration key, listed in a file of
# its own (root's ~/.ssh/authorized_keys is not touched). This is the trust a
# pair of real hypervisors has both ways.
a_port=2223
b_key=$home/.ssh/novalite_migration_ed25519
# sshd without PAM refuses key logins to a locked account ('!' in shadow);
# '*' still allows no password, only keys.
if getent shadow root | cut -d: -f2 | grep -q '^!'; then
    echo "second_host.sh: root's account is locked ('!'), which sshd without PAM treats as no login" \
        "even with a key; setting it to '*' (no password login either)" >&2
    usermod -p '*' root
fi
[ -f "$b_key" ] || runuser -u "$user" -- ssh-keygen -q -t ed25519 -N '' -C novalite-b-migration -f "$b_key"
install -m 0600 -o root -g root "$b_key.pub" "$sshd_dir/root_authorized_keys"
local_sshd sshd_a "$a_port" <<CONF
AuthorizedKeysFile $sshd_dir/root_authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
CONF
install -m 0644 -o "$user" -g "$user" "$sshd_dir/sshd_a.known_hosts" "$home/.ssh/known_hosts"
runuser -u "$user" -- ssh -o BatchMode=yes -i "$b_key" -p "$a_port" root@127.0.0.1 true

echo "export NOVALITE_HOSTA_SSH_PORT=$a_port"
echo "export NOVALITE_HOSTB_MIGRATION_KEY=$b_key"
echo "export NOVALITE_HOSTB_USER=$user"
echo "export NOVALITE_HOSTB_SSH_HOST=127.0.0.1"
echo "export NOVALITE_HOSTB_SSH_PORT=$port"
echo "export NOVALITE_HOSTB_SSH_KEY=$key"
echo "export NOVALITE_HOSTB_URI=qemu:///session"
echo "export NOVALITE_HOSTB_INSTANCES=$home/instances"
