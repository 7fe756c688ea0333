#!/usr/bin/env bash
# A one-node Slurm cluster on this host, for `albench run --executor slurm` and `pytest -m slurm`.
#
# Installs Debian's slurm-wlm and munge, creates a munge key, writes a minimal slurm.conf (one node,
# partition "debug", no accounting), starts munged, slurmctld and slurmd as root (no systemd needed)
# and waits until `sinfo` shows the node idle. Idempotent: a second run reuses the installation and
# the key, rewrites the configuration and restarts only the daemons that are not running.
#
# Usage: sudo scripts/slurm_up.sh        (root is required; SLURM_UP_TIMEOUT=seconds, default 90)
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "slurm_up.sh: run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

TIMEOUT="${SLURM_UP_TIMEOUT:-90}"
HOST="$(hostname -s)"
CPUS="$(nproc --all)"
MEM_MB="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"  # leave slurmd's check some slack

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q slurm-wlm munge
fi

# ---------------------------------------------------------------- munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge
install -d -o munge -g munge -m 0711 /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    pkill -x munged 2>/dev/null || true  # a dead daemon's socket
    rm -f /run/munge/munged.socket.2 /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 20); do munge -n >/dev/null 2>&1 && break; sleep 0.5; done
munge -n | unmunge >/dev/null

# ---------------------------------------------------------------- slurm.conf
CONF_DIR=/etc/slurm
install -d "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
NEW_CONF="$(mktemp)"
cat >"$NEW_CONF" <<EOF
# Written by albench scripts/slurm_up.sh: a one-node cluster on $HOST.
ClusterName=albench
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=10
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
CHANGED=0
if ! cmp -s "$NEW_CONF" "$CONF_DIR/slurm.conf"; then
    install -m 0644 "$NEW_CONF" "$CONF_DIR/slurm.conf"
    CHANGED=1
fi
rm -f "$NEW_CONF"

# ---------------------------------------------------------------- daemons
running() { pgrep -x "$1" >/dev/null; }
if [ "$CHANGED" = 1 ]; then  # a new configuration: restart what runs with the old one
    for d in slurmd slurmctld; do
        if running "$d"; then pkill -x "$d" || true; fi
    done
    for _ in $(seq 20); do running slurmd || running slurmctld || break; sleep 0.5; done
fi
running slurmctld || /usr/sbin/slurmctld
running slurmd || /usr/sbin/slurmd

# ---------------------------------------------------------------- wait for the node
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    state="$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -1 || true)"
    case "$state" in
        idle|mixed|allocated) break ;;
        down*|drain*|fail*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "slurm_up.sh: node $HOST not idle after ${TIMEOUT}s (state: ${state:-no answer});" \
             "see /var/log/slurm/slurmctld.log and slurmd.log" >&2
        exit 1
    fi
    sleep 1
done
sinfo
echo "slurm_up.sh: one-node cluster 'albench' up on $HOST ($CPUS CPUs, ${MEM_MB} MB)"
