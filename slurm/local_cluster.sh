#!/usr/bin/env bash
# local_cluster.sh start|stop|status DIR
#
# A real single-node Slurm cluster on localhost, for testing the sbatch templates
# (signals, requeue, preemption, arrays) without a site cluster. Everything it
# owns lives under DIR: slurm.conf, munge key and socket, controller state, slurmd
# spool, pid files and logs, so several clusters (one per DIR) can coexist and
# `rm -rf DIR` after `stop` leaves nothing behind. Needs root (slurmd launches the
# tasks) and Debian's `slurm-wlm munge`; it works without systemd or cgroups.
#
# start   writes the config, starts munged, slurmctld and slurmd, waits until
#         the node is IDLE and prints `export SLURM_CONF=...` on stdout (messages
#         go to stderr, so `eval "$(local_cluster.sh start D)"`); on failure it
#         prints the daemons' logs and stops whatever it started.
# stop    cancels this cluster's jobs, shuts the daemons down; safe to repeat.
# status  prints daemons, nodes and queue; exit 0 when running, 1 when not.
#
# Environment: SLURM_LOCAL_CPUS (CPUs the node advertises, default 4; more than
# the machine has is fine, config_overrides), SLURM_LOCAL_PORT (slurmctld port,
# slurmd uses the next one; default the first free pair from 16817),
# SLURM_LOCAL_TIMEOUT (seconds to wait for IDLE, default 60).
# Partitions: `debug` (default, PriorityTier 1) and `urgent` (PriorityTier 10):
# an urgent job that needs a debug job's CPUs preempts it with REQUEUE, and the
# victim gets its --signal first (preempt_send_user_signal, 60 s GraceTime).
set -euo pipefail

die() { echo "local_cluster: error: $*" >&2; exit 1; }
say() { echo "local_cluster: $*" >&2; }

(($# == 2)) || die "usage: $0 start|stop|status DIR"
action=$1
dir=$(realpath -m "$2")
conf=$dir/etc/slurm.conf
munge_sock=$dir/munge/munge.sock

# alive PIDFILE NAME: the process in PIDFILE runs and is NAME (pid files outlive reboots/reuse).
alive() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$2" ]]
}

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

tail_logs() {
  local f
  for f in "$dir/log/munged.log" "$dir/log/slurmctld.log" "$dir/log/slurmd.log"; do
    [[ -f $f ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 20 "$f" >&2
  done
}

write_config() {
  local cpus=${SLURM_LOCAL_CPUS:-4} port=${SLURM_LOCAL_PORT:-}
  if [[ -z $port ]]; then
    port=16817
    while ! { port_free "$port" && port_free $((port + 1)); }; do
      port=$((port + 2))
      ((port < 17817)) || die "no free port pair in 16817-17817; set SLURM_LOCAL_PORT"
    done
  fi
  mkdir -p "$dir"/{etc,state,spool,log,run}
  : >"$dir/etc/plugstack.conf"
  cat >"$conf" <<EOF
# Written by slurm/local_cluster.sh: a private single-node test cluster in $dir.
ClusterName=stepvideo-local
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=pmix
KillWait=30
MinJobAge=600
MailProg=/bin/true
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=60
PartitionName=urgent Nodes=localhost MaxTime=INFINITE State=UP PriorityTier=10
EOF
}

# Leaves nothing running behind a failed start; the logs stay for a look.
start_failed() {
  tail_logs
  cmd_stop 2>/dev/null
  die "$1; logs above, all in $dir/log"
}

start_munge() {
  alive "$dir/run/munged.pid" munged && return 0
  mkdir -p "$dir/munge"
  chmod 700 "$dir/munge"
  if [[ ! -s $dir/munge/munge.key ]]; then
    mungekey --create --keyfile="$dir/munge/munge.key" --force
    chmod 400 "$dir/munge/munge.key"
  fi
  # --force: munged refuses a socket directory it considers insecure (ours is 700, root-owned, outside /run).
  munged --force --socket="$munge_sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munge.seed" ||
    start_failed "munged did not start"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd runs as root to launch tasks)"
  local tool
  for tool in munged mungekey slurmctld slurmd scontrol sinfo ss; do
    command -v "$tool" >/dev/null ||
      die "'$tool' not found: install Debian's slurm-wlm and munge (scripts/setup.sh)"
  done
  # Unix socket paths (munge's, slurmstepd's in the spool) must fit in 108 bytes.
  ((${#dir} <= 60)) || die "DIR $dir is too long for the daemons' socket paths (at most 60 characters): use e.g. mktemp -d /tmp/slurm.XXXXXX"
  # A fresh config (and free ports) unless the cluster is partly up and uses the old one.
  if [[ ! -f $conf ]] || ! { alive "$dir/run/slurmctld.pid" slurmctld || alive "$dir/run/slurmd.pid" slurmd; }; then
    write_config
  fi
  export SLURM_CONF=$conf
  start_munge
  if ! alive "$dir/run/slurmctld.pid" slurmctld; then
    slurmctld -f "$conf" || start_failed "slurmctld did not start"
  fi
  if ! alive "$dir/run/slurmd.pid" slurmd; then
    slurmd -f "$conf" -N localhost || start_failed "slurmd did not start"
  fi
  local timeout=${SLURM_LOCAL_TIMEOUT:-60} t0=$SECONDS state=""
  while ((SECONDS - t0 < timeout)); do
    state=$(scontrol show node localhost 2>/dev/null | sed -n 's/.*State=\([^ ]*\).*/\1/p' | head -n1)
    [[ $state == IDLE* || $state == MIXED* || $state == ALLOCATED* ]] && break
    sleep 0.5
  done
  if [[ $state != IDLE* && $state != MIXED* && $state != ALLOCATED* ]]; then
    start_failed "node localhost not IDLE after ${timeout}s (state '${state:-unknown}')"
  fi
  say "cluster in $dir up (node $state, slurmctld port $(sed -n 's/^SlurmctldPort=//p' "$conf"))"
  echo "export SLURM_CONF=$conf"
}

cmd_stop() {
  local ctld=0 t0
  alive "$dir/run/slurmctld.pid" slurmctld && ctld=1
  if ((ctld)); then
    export SLURM_CONF=$conf
    # Jobs first: `scontrol shutdown` would leave their slurmstepd and tasks running.
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    if [[ -n $jobs ]]; then
      # shellcheck disable=SC2086  # one job id per word
      scancel $jobs 2>/dev/null || true
      t0=$SECONDS
      while [[ -n $(squeue -h -o %A 2>/dev/null || true) ]] && ((SECONDS - t0 < 45)); do sleep 0.5; done
    fi
    scontrol shutdown >/dev/null 2>&1 || true
  fi
  # A slurmd whose controller is gone is not reached by `scontrol shutdown`.
  local name pidfile
  for name in slurmctld slurmd; do
    pidfile=$dir/run/$name.pid
    t0=$SECONDS
    while alive "$pidfile" "$name" && ((SECONDS - t0 < 15)); do sleep 0.2; done
    if alive "$pidfile" "$name"; then kill -TERM "$(<"$pidfile")" 2>/dev/null || true; fi
    t0=$SECONDS
    while alive "$pidfile" "$name" && ((SECONDS - t0 < 10)); do sleep 0.2; done
    if alive "$pidfile" "$name"; then kill -KILL "$(<"$pidfile")" 2>/dev/null || true; fi
  done
  if alive "$dir/run/munged.pid" munged; then
    munged --stop --socket="$munge_sock" >/dev/null 2>&1 || kill -TERM "$(<"$dir/run/munged.pid")" 2>/dev/null || true
  fi
  say "cluster in $dir stopped"
}

cmd_status() {
  local name running=1
  for name in munged slurmctld slurmd; do
    if alive "$dir/run/$name.pid" "$name"; then
      echo "$name: running (pid $(<"$dir/run/$name.pid"))"
    else
      echo "$name: not running"
      running=0
    fi
  done
  ((running)) || return 1
  export SLURM_CONF=$conf
  echo "export SLURM_CONF=$conf"
  sinfo
  squeue
}

case $action in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "unknown action '$action' (start|stop|status)" ;;
esac
