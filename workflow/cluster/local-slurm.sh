#!/usr/bin/env bash
# A single-node SLURM cluster with accounting on this machine, to test the SLURM profile for real
# (tests/test_cluster.py) where no cluster is at hand.
#
#   workflow/cluster/local-slurm.sh start|stop|status        # as root, on Debian/Ubuntu
#   export SLURM_CONF=/tmp/l2tww-slurm/etc/slurm.conf       # then sbatch, sacct, snakemake
#
# Accounting is not optional: snakemake-executor-plugin-slurm (2.x) asks `sacct` for job states
# whenever sacct is installed, and without slurmdbd sacct fails, so Snakemake never sees a job
# finish. Hence five daemons: munged, mariadbd, slurmdbd, slurmctld, slurmd. Every file they use
# (configs, munge key, sockets, database, spool, logs, pid files) lives in the state folder
# ($L2TWW_SLURM_DIR, default /tmp/l2tww-slurm) and they listen on private ports ($L2TWW_SLURM_PORT
# to +3, default 16817, on 127.0.0.1), so the system's munge socket, /etc/slurm and any MariaDB
# are left alone; the script refuses to run beside a slurm.conf it did not write. One path lies
# outside: /run/slurm/conf links to the state folder's etc/ (where a configless slurmd keeps its
# config on a real node), because the plugin's job step runs `srun` with every SLURM_* variable
# removed, SLURM_CONF included, and srun then looks there after /etc/slurm/slurm.conf.
#
# `start` installs the Debian packages when they are missing and is idempotent: a running cluster
# is left as it is, a partly running one is stopped and started afresh. `stop` cancels the
# cluster's jobs and ends each daemon by the pid in its pid file.
# Exit status: 0 done; 3 cannot run on this machine (not root, no apt-get, a foreign slurm.conf:
# the test skips on it); 1 anything else (the test fails on it).
set -euo pipefail

STATE=$(realpath -m "${L2TWW_SLURM_DIR:-/tmp/l2tww-slurm}")
PORT=${L2TWW_SLURM_PORT:-16817}     # slurmctld; slurmd +1, slurmdbd +2, MariaDB +3
PARTITION=${L2TWW_SLURM_PARTITION:-cpu}
CLUSTER=l2tww
MARK="# made by l2tww workflow/cluster/local-slurm.sh"
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; stop is the reverse

ETC=$STATE/etc RUN=$STATE/run LOG=$STATE/log
export SLURM_CONF=$ETC/slurm.conf PATH=$PATH:/usr/sbin

die() { echo "local-slurm.sh: $1" >&2; exit "${2:-1}"; }

pid_of() { cat "${2:-$RUN}/$1.pid" 2>/dev/null || true; }

# Alive and still the daemon we started (a pid file can outlive its process and the pid be reused;
# a killed daemon stays a zombie where nothing reaps orphans, as in some containers).
alive() {  # alive DAEMON [RUN_DIR]
  local pid stat; pid=$(pid_of "$1" "${2:-$RUN}")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds
  local limit=$1 what=$2 deadline=$((SECONDS + $1)); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not come up within ${limit}s; see $LOG/"
    sleep 0.25
  done
}

check_machine() {
  local conf
  for conf in /etc/slurm/slurm.conf /etc/slurm-llnl/slurm.conf "$SLURM_CONF"; do
    if [ -f "$conf" ] && ! grep -qxF "$MARK" "$conf"; then
      die "$conf exists and was not written by this script: this looks like a real SLURM host; run the test against it instead (docs/cluster.md)" 3
    fi
  done
  if [ -L /run/slurm/conf ]; then
    local target; target=$(readlink /run/slurm/conf)
    if [ "$target" != "$ETC" ]; then
      # Another state folder's link: stale unless that cluster's slurmd still runs.
      if [ -e "$target" ] && ! grep -qxF "$MARK" "$target/slurm.conf" 2>/dev/null; then
        die "/run/slurm/conf links to $target, not to a local-slurm.sh cluster: this looks like a configless SLURM node" 3
      elif alive slurmd "$(dirname "$target")/run"; then
        die "another local-slurm.sh cluster runs from $(dirname "$target"): stop it first" 3
      fi
      rm -f /run/slurm/conf
    fi
  elif [ -e /run/slurm/conf ]; then
    die "/run/slurm/conf exists: this looks like a configless SLURM node; run the test against it instead (docs/cluster.md)" 3
  fi
  [ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts munged, mariadbd and the SLURM daemons)" 3
}

install_packages() {
  local missing=0 bin
  for bin in slurmctld slurmd slurmdbd sbatch sacct sacctmgr munged mariadbd mariadb-install-db; do
    command -v "$bin" >/dev/null || missing=1
  done
  [ "$missing" = 0 ] && return 0
  command -v apt-get >/dev/null || die "needs apt-get to install ${PACKAGES[*]} (Debian/Ubuntu)" 3
  export DEBIAN_FRONTEND=noninteractive
  { nice -n 10 apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
    || { apt-get update -q && nice -n 10 apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; }; } \
    >"$STATE/apt.log" 2>&1 || die "apt-get install ${PACKAGES[*]} failed; see $STATE/apt.log"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_configs() {
  local cpus mem host dbpass
  cpus=$(nproc)
  # Leave 1 GiB (at least a quarter) to the system and the daemons; SLURM counts MB.
  mem=$(awk '/^MemTotal:/ {m = int($2 / 1024); r = m - 1024; if (r < m * 3 / 4) r = int(m * 3 / 4); print r}' /proc/meminfo)
  host=$(hostname -s)
  dbpass=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  cat >"$ETC/slurm.conf" <<EOF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
CredType=cred/munge
StateSaveLocation=$STATE/spool/slurmctld
SlurmdSpoolDir=$STATE/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
MailProg=/bin/true
# No cgroups (containers rarely delegate them): processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
# Cores and memory are what jobs ask for, as on a real cluster: --mem above the node's is refused.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
# Accounting through slurmdbd, as the executor plugin's sacct needs; jobs must belong to an
# association (the user's default account when sbatch gets no -A), as on most real clusters.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$RUN/munge.socket
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$ETC/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
DbdAddr=127.0.0.1
DbdHost=$host
DbdPort=$((PORT + 2))
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$ETC/slurmdbd.conf"
  echo "$dbpass"
}

start_munged() {
  [ -f "$ETC/munge.key" ] || { head -c 1024 /dev/urandom >"$ETC/munge.key"; chmod 400 "$ETC/munge.key"; }
  munged --key-file="$ETC/munge.key" --socket="$RUN/munge.socket" --pid-file="$RUN/munged.pid" \
    --log-file="$LOG/munged.log" --seed-file="$STATE/munge.seed" --force
  wait_for 15 munged bash -c "munge -S '$RUN/munge.socket' -n | unmunge -S '$RUN/munge.socket'"
}

start_mariadbd() {
  local dbpass=$1 sql=(mariadb --no-defaults -S "$RUN/mysql.sock" -u root)
  if [ ! -d "$STATE/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed; see $LOG/mariadb-install.log"
  fi
  setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$RUN/mysql.sock" \
    --port=$((PORT + 3)) --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$RUN/mariadbd.pid" \
    --log-error="$LOG/mariadbd.log" --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --innodb-lock-wait-timeout=900 \
    </dev/null >/dev/null 2>&1 &
  wait_for 60 mariadbd "${sql[@]}" -e "SELECT 1"
  "${sql[@]}" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1';
    ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || die "could not create the slurm database user"
}

start() {
  check_machine
  mkdir -p "$STATE"
  install_packages
  local d all=1
  for d in "${DAEMONS[@]}"; do alive "$d" || all=0; done
  if [ "$all" = 1 ]; then
    echo "local-slurm.sh: running (SLURM_CONF=$SLURM_CONF)"
    return 0
  fi
  stop >/dev/null
  for p in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    port_free "$p" || die "port $p is taken; choose other ports with L2TWW_SLURM_PORT=<first of 4 free ports>"
  done
  mkdir -p "$ETC" "$RUN" "$LOG" "$STATE/spool/slurmctld" "$STATE/spool/slurmd"
  chmod 755 "$STATE" "$ETC" "$RUN" "$LOG"
  local dbpass; dbpass=$(write_configs)
  start_munged
  start_mariadbd "$dbpass"
  slurmdbd || die "slurmdbd failed; see $LOG/slurmdbd.log"
  wait_for 60 slurmdbd sacctmgr -n list cluster
  # The cluster must exist in the database before slurmctld registers with it.
  if [ -z "$(sacctmgr -n -P list cluster "$CLUSTER" format=cluster)" ]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster $CLUSTER failed"
  fi
  mkdir -p /run/slurm && ln -sfn "$ETC" /run/slurm/conf
  slurmctld || die "slurmctld failed; see $LOG/slurmctld.log"
  wait_for 60 slurmctld scontrol ping
  slurmd || die "slurmd failed; see $LOG/slurmd.log"
  wait_for 60 "slurmd (node idle in partition $PARTITION)" \
    bash -c "sinfo -h -p '$PARTITION' -o %T | grep -qx idle"
  echo "local-slurm.sh: started $(sinfo -h -p "$PARTITION" -o '%P %D node, %c CPUs, %m MB'); export SLURM_CONF=$SLURM_CONF"
}

stop() {
  # Jobs first, so no slurmstepd outlives its slurmd.
  if alive slurmctld; then
    local jobs; jobs=$(squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      for _ in $(seq 60); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.25; done
    fi
  fi
  local i d pid
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    d=${DAEMONS[i]}
    alive "$d" || { rm -f "$RUN/$d.pid"; continue; }
    pid=$(pid_of "$d")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 80); do alive "$d" || break; sleep 0.25; done
    if alive "$d"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
    rm -f "$RUN/$d.pid"
    echo "local-slurm.sh: stopped $d ($pid)"
  done
  if [ "$(readlink /run/slurm/conf 2>/dev/null)" = "$ETC" ]; then rm -f /run/slurm/conf; fi
}

status() {
  local d rc=0
  for d in "${DAEMONS[@]}"; do
    if alive "$d"; then echo "$d running ($(pid_of "$d"))"; else echo "$d stopped"; rc=1; fi
  done
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status (state in \$L2TWW_SLURM_DIR, default /tmp/l2tww-slurm)" 2 ;;
esac
