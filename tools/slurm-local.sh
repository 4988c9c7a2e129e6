#!/usr/bin/env bash
# A single-node Slurm cluster on this machine for the `--launcher slurm` test: munged,
# slurmctld and slurmd, configured under $PLEXUS_SLURM_DIR (default /tmp/plexus-slurm).
# Idempotent: a second call finds the daemons answering and only prints the SLURM_CONF line.
# Installs Debian's slurmctld, slurmd, munge and slurm-client when missing (root).
# Prints `SLURM_CONF=<file>` on its last line; exit 0 when `sinfo` sees an idle node.
set -euo pipefail
dir=${PLEXUS_SLURM_DIR:-/tmp/plexus-slurm}
conf=$dir/slurm.conf
export SLURM_CONF=$conf

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd munge slurm-client >&2
fi

node_up() { sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }
if [ -f "$conf" ] && node_up; then
    echo "SLURM_CONF=$conf"
    exit 0
fi

mkdir -p "$dir/state" "$dir/spool"
host=$(hostname -s)
# The node's CPUs and memory as slurmd sees them, so the node is not drained as mismatched.
node=$(slurmd -C | head -1)
cat > "$conf" <<CONF
ClusterName=plexus
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# munged: the package's key; its socket folder may be missing in a container without systemd.
mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
    if id munge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged
    else
        /usr/sbin/munged --force
    fi
fi
pkill_pidfile() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; }
pkill_pidfile "$dir/slurmctld.pid"
pkill_pidfile "$dir/slurmd.pid"
sleep 1
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 30); do
    if node_up; then
        echo "SLURM_CONF=$conf"
        exit 0
    fi
    scontrol -f "$conf" update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "slurm did not come up; logs in $dir" >&2
sinfo -N >&2 || true
exit 1
