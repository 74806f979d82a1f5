#!/usr/bin/env bash
# N logical hypervisors on this machine for benchmarks/fleet_bench.py: the
# unix users novalite-fleet-01..N, each with its own libvirt daemon
# (qemu:///session), instances_path and domain namespace, all reachable from
# root over SSH on 127.0.0.1:2230 (one sshd of our own, keys only), as real
# hosts are. Idempotent; needs scripts/setup.sh (host B's sshd helpers and
# root's migration key).
#
#   bash benchmarks/fleet_hosts.sh 20
set -euo pipefail
count=${1:-20}
port=2230
key=/root/.ssh/novalite_migration_ed25519
base=/var/lib/novalite-fleet
sshd_dir=/var/lib/novalite-sshd
[ -f "$key" ] || { echo "fleet_hosts.sh: run scripts/setup.sh first (no $key)" >&2; exit 1; }
install -d -m 0755 "$base" "$sshd_dir" /run/sshd

for n in $(seq -w 1 "$count"); do
    user=novalite-fleet-$n
    home=$base/$n
    id "$user" >/dev/null 2>&1 || useradd --system --home-dir "$home" --create-home --shell /bin/bash "$user"
    usermod -p '*' "$user"
    install -d -m 0755 -o "$user" -g "$user" "$home" "$home/instances"
    install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
    install -m 0600 -o "$user" -g "$user" "$key.pub" "$home/.ssh/authorized_keys"
done

config=$sshd_dir/fleet_config
pidfile=$sshd_dir/fleet.pid
cat > "$config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile $pidfile
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
MaxStartups 100:30:200
MaxSessions 100
AllowUsers novalite-fleet-*
PermitRootLogin no
CONF
if ! { [ -f "$pidfile" ] && tr '\0' ' ' < "/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -qF -- "-f $config"; }; then
    rm -f "$pidfile"
    /usr/sbin/sshd -f "$config" -E "$sshd_dir/fleet.log"
fi
for _ in $(seq 100); do
    ssh-keyscan -p "$port" -t ed25519 127.0.0.1 > "$sshd_dir/fleet.known_hosts" 2>/dev/null \
        && [ -s "$sshd_dir/fleet.known_hosts" ] && break
    sleep 0.1
done
touch /root/.ssh/known_hosts
grep -v "^\[127.0.0.1\]:$port " /root/.ssh/known_hosts > /root/.ssh/known_hosts.tmp || true
cat "$sshd_dir/fleet.known_hosts" >> /root/.ssh/known_hosts.tmp
mv /root/.ssh/known_hosts.tmp /root/.ssh/known_hosts

# each user's libvirtd for good (the one a first client spawns exits when idle)
for n in $(seq -w 1 "$count"); do
    ssh -o BatchMode=yes -i "$key" -p "$port" "novalite-fleet-$n@127.0.0.1" bash -s <<'REMOTE' &
set -eu
for pid in $(pgrep -u "$(id -u)" -x libvirtd || true); do
    if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- '--timeout'; then
        kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
done
pgrep -u "$(id -u)" -x libvirtd >/dev/null || /usr/sbin/libvirtd -d
for _ in $(seq 50); do virsh -q -c qemu:///session list --all >/dev/null 2>&1 && exit 0; sleep 0.2; done
exit 1
REMOTE
done
wait
echo "fleet_hosts.sh: $count hypervisors novalite-fleet-01..$count on 127.0.0.1:$port"
