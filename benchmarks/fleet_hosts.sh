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

# shellcheck source=../tests/tools/local_sshd.sh
. "$(dirname "$0")/../tests/tools/local_sshd.sh"
local_sshd fleet "$port" <<CONF
AllowUsers novalite-fleet-*
PermitRootLogin no
CONF
root_trusts fleet "$port"

# each user's libvirtd for good (the one a first client spawns exits when idle)
pids=()
for n in $(seq -w 1 "$count"); do
    user_libvirtd "$key" "$port" "novalite-fleet-$n" &
    pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
    wait "$pid" || failed=$((failed + 1))
done
[ "$failed" = 0 ] || { echo "fleet_hosts.sh: $failed of $count libvirt daemons did not answer" >&2; exit 1; }
echo "fleet_hosts.sh: $count hypervisors novalite-fleet-01..$count on 127.0.0.1:$port"
