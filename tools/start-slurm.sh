#!/usr/bin/env bash
# Starts a single-node SLURM cluster with accounting on this machine, as root, from Debian's
# packages (installed by tools/install-debian-packages.sh): munge, MariaDB + slurmdbd (the
# accounting that the Snakemake SLURM plugin's `sacct` status checks need), slurmctld and slurmd.
# The node gets this machine's CPUs and memory (`slurmd -C`); one partition `debug` (default).
# Idempotent and safe to call concurrently: a daemon already running is left alone, and the script
# returns once the node accepts jobs. Logs: /var/log/slurm/. Used by the SLURM tests and CI.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "start-slurm.sh: must run as root" >&2; exit 1; }
# One caller at a time (two test workers, CI and a user): the others wait, then find the daemons up.
# `flock -o`: the daemons started below do not inherit the lock.
if [ -z "${START_SLURM_LOCKED:-}" ]; then
  mkdir -p /run/lock
  exec env START_SLURM_LOCKED=1 flock -o /run/lock/oeseg-start-slurm.lock bash "$0" "$@"
fi
for cmd in munged mariadbd slurmdbd slurmctld slurmd sacctmgr sinfo; do
  command -v "$cmd" >/dev/null || {
    echo "start-slurm.sh: $cmd not found; run tools/install-debian-packages.sh" >&2; exit 1; }
done

CLUSTER=oeseg
HOST=$(hostname -s)
CONF=/etc/slurm
mkdir -p "$CONF" /var/log/slurm /var/spool/slurmctld /var/spool/slurmd /run/munge

running() { pgrep -x "$1" >/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "start-slurm.sh: $what did not come up within ${seconds}s; see /var/log/slurm/" >&2
  exit 1
}

write_if_changed() {  # write_if_changed FILE MODE < content
  local tmp; tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else install -m "$2" "$tmp" "$1"; rm -f "$tmp"; fi
}

# --- munge: authentication between the daemons and the clients --------------------------------
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
running munged || su -s /bin/sh munge -c "munged"
wait_for 15 munge munge -n

# --- MariaDB: the accounting database (root connects over the local socket, no password) -------
if ! running mariadbd; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
  (mariadbd-safe --user=mysql >/var/log/slurm/mariadb.log 2>&1 &)
fi
wait_for 60 MariaDB mariadb -u root -e "SELECT 1"

# --- configuration: one node with this machine's CPUs and memory; accounting through slurmdbd --
node_line=$(slurmd -C | head -n 1)
write_if_changed "$CONF/slurm.conf" 644 <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
MinJobAge=300
$node_line State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
write_if_changed "$CONF/slurmdbd.conf" 600 <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
EOF
# --- daemons -----------------------------------------------------------------------------------
running slurmdbd || slurmdbd
wait_for 60 slurmdbd sacctmgr -n list cluster

sacctmgr -n list cluster format=cluster | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
running slurmctld || slurmctld
wait_for 30 slurmctld scontrol ping
running slurmd || slurmd
node_ready() { sinfo -h -N -o %T | grep -Eq '^(idle|mixed|allocated)'; }
for _ in $(seq 30); do
  node_ready && break
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 1
done
wait_for 5 "node $HOST" node_ready
echo "SLURM cluster '$CLUSTER' ready: $(sinfo -h -N -o '%N %c CPUs %m MB %T')"
