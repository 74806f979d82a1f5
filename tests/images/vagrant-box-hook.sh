#!/usr/bin/env bash
# Customize hook of the Vagrant box (tests/images/build-vagrant-box.sh passes it
# to build-cloud-image.sh --customize): run as root on the build host with the
# image's root filesystem tree as its only argument, after the cloud image's
# own configuration (the tree is already trimmed: no apt lists, no docs).
#
#   * the user Vagrant logs in as, `vagrant`, with passwordless sudo and
#     Vagrant's well-known insecure public key in its authorized_keys (read
#     from the keys directory of the build host's Debian `vagrant` package;
#     `vagrant up` replaces it with a key of its own on the first boot);
#   * sshd enabled, and a oneshot unit that generates host keys before sshd
#     starts if none exist. The cloud image removes its host keys so that
#     every clone gets its own; cloud-init's ssh module makes them on the
#     first boot (it runs with the fallback datasource None too, which is what
#     a Vagrant machine without a config drive gets), the unit covers a boot
#     where cloud-init did not (disabled, failed) - sshd refuses to start
#     without host keys.
set -euo pipefail

root="${1:?usage: vagrant-box-hook.sh ROOTFS}"
[ -d "$root/etc" ] || { echo "vagrant-box-hook: $root is not a root filesystem tree" >&2; exit 2; }
log() { echo "vagrant-box-hook: $*" >&2; }

# --- Vagrant's insecure public key(s), from the installed vagrant package ---------------
keys=()
while IFS= read -r path; do
    [ -f "$path" ] && keys+=("$path")
done < <(dpkg -L vagrant 2>/dev/null | grep -E '/keys/[^/]*\.pub[^/]*$' || true)
if [ ${#keys[@]} -eq 0 ]; then
    log "no public key in the keys directory of the Debian package vagrant (is it installed? apt-get install vagrant)"
    exit 1
fi

# --- the vagrant user ---------------------------------------------------------------------------
# Password field '*': no password login, but not a locked ('!') account,
# which sshd could refuse even for key logins.
if ! chroot "$root" id vagrant >/dev/null 2>&1; then
    chroot "$root" useradd --create-home --user-group --shell /bin/bash --password '*' \
        --comment "Vagrant" vagrant
fi
install -d -m 0700 "$root/home/vagrant/.ssh"
{ cat "${keys[@]}" | grep -E '^(ssh-|ecdsa-)' || true; } | sort -u > "$root/home/vagrant/.ssh/authorized_keys"
[ -s "$root/home/vagrant/.ssh/authorized_keys" ] || { log "the vagrant package's keys hold no public key line"; exit 1; }
chmod 0600 "$root/home/vagrant/.ssh/authorized_keys"
chroot "$root" chown -R vagrant:vagrant /home/vagrant/.ssh
log "vagrant user with $(wc -l < "$root/home/vagrant/.ssh/authorized_keys") insecure key(s) from ${keys[*]}"

printf '%s\n' '# Vagrant provisions as this user and expects sudo without a password.' \
    'vagrant ALL=(ALL:ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
chroot "$root" visudo -qcf /etc/sudoers.d/vagrant

# --- sshd: enabled, with host keys on every boot ---------------------------------------------------
units="$root/etc/systemd/system"
mkdir -p "$units/multi-user.target.wants" "$units/ssh.service.wants"
[ -L "$units/multi-user.target.wants/ssh.service" ] || ln -s /lib/systemd/system/ssh.service "$units/multi-user.target.wants/ssh.service"
[ -L "$units/sshd.service" ] || ln -s /lib/systemd/system/ssh.service "$units/sshd.service"
cat > "$units/novalite-ssh-host-keys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys when there are none
# cloud-init's ssh module normally makes them first (cloud-init.service runs
# before sysinit.target); this unit only acts when it did not.
After=cloud-init.service
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service
UNIT
ln -sfn /etc/systemd/system/novalite-ssh-host-keys.service "$units/ssh.service.wants/novalite-ssh-host-keys.service"

if grep -qE '^ *- *ssh *$' "$root/etc/cloud/cloud.cfg"; then
    log "cloud-init runs its ssh module (host keys on first boot); novalite-ssh-host-keys.service is the fallback"
else
    log "cloud-init's ssh module is not listed: novalite-ssh-host-keys.service generates the host keys"
fi
