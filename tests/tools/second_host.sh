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

. "$(dirname "$0")/local_sshd.sh"

local_sshd sshd "$port" <<CONF
AllowUsers $user
PermitRootLogin no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
root_trusts sshd "$port"

# Its QEMU takes live migrations on ports of its own (host A keeps libvirt's
# 49152-49215, host C 49300-49363): all three share one network namespace.
install -d -m 0700 -o "$user" -g "$user" "$home/.config" "$home/.config/libvirt"
printf 'migration_port_min = 49400\nmigration_port_max = 49463\n' > "$home/.config/libvirt/qemu.conf.new"
if ! cmp -s "$home/.config/libvirt/qemu.conf.new" "$home/.config/libvirt/qemu.conf"; then
    install -m 0600 -o "$user" -g "$user" "$home/.config/libvirt/qemu.conf.new" "$home/.config/libvirt/qemu.conf"
    restart_b=1
fi
rm -f "$home/.config/libvirt/qemu.conf.new"

# The user's own libvirtd, started for good (restarted when its qemu.conf changed).
user_libvirtd "$key" "$port" "$user" "${restart_b:-0}"

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
