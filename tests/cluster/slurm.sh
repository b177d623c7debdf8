#!/bin/bash
# A single-node SLURM cluster on 127.0.0.1 for the integration test (tests/cluster/test_slurm.py).
#
#   tests/cluster/slurm.sh up DIR     install the Debian packages if missing, write the configs
#                                     under DIR, start munged, slurmctld and slurmd, wait until
#                                     the node is idle; prints the SLURM_CONF line to export
#   tests/cluster/slurm.sh down DIR   stop the daemons by the PIDs in DIR/*.pid (reverse order)
#
# Needs root (the daemons run as root, munged as the munge user). DIR must be traversable by
# the munge user (e.g. mktemp -d, then chmod 755). Partitions: cpu (default) and gpu; the gpu
# partition's node advertises one GPU through gres File=/dev/null, so jobs that request
# --gpus=1 are scheduled there without hardware. Accounting is off: jobs are checked with
# squeue (MinJobAge keeps finished jobs listed 5 minutes) and the job-completion log
# DIR/jobcomp.log (one line per finished job with its partition and state).
# The daemons listen on 127.0.0.1 only through the ports below (SLURM_TEST_PORT, default 6817).
set -euo pipefail

cmd=${1:?usage: slurm.sh up|down DIR}
dir=$(realpath -m "${2:?usage: slurm.sh up|down DIR}")
port=${SLURM_TEST_PORT:-6817}

stop_pid_file() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    fi
    rm -f "$file"
}

down() {
    stop_pid_file "$dir/slurmd.pid"
    stop_pid_file "$dir/slurmctld.pid"
    stop_pid_file "$dir/munge/munged.pid"
}

up() {
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            munge slurmctld slurmd slurm-client >"$dir.apt.log" 2>&1 \
            || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends munge slurmctld slurmd slurm-client \
                >"$dir.apt.log" 2>&1; }
    fi
    mkdir -p "$dir"/{state,spool,log,munge}
    chmod 755 "$dir"
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 600 /etc/munge/munge.key
    fi
    chown munge:munge "$dir/munge"
    chmod 755 "$dir/munge"
    # munged on its default socket: a configless slurmd authenticates before it has a config.
    # An munged already serving that socket is used as it is (and left running at the end).
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 755 /run/munge

    # The node's CPUs and memory as slurmd sees them, leaving 1 GB for the host.
    local cpus mem
    cpus=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mem=$((mem > 2048 ? mem - 1024 : mem))

    cat >"$dir/slurm.conf" <<CONF
ClusterName=layerinfo-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldParameters=enable_configless
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
    cat >"$dir/gres.conf" <<CONF
AutoDetect=off
NodeName=localhost Name=gpu File=/dev/null
CONF
    touch "$dir/cgroup.conf"
    export SLURM_CONF=$dir/slurm.conf

    if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- munged --pid-file="$dir/munge/munged.pid" \
            --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
    fi
    slurmctld -f "$dir/slurm.conf"
    for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
    # Configless: slurmd and every job step fetch the config from slurmctld (the executor's job
    # step clears SLURM_CONF, so a nested srun would otherwise find no configuration).
    slurmd -N localhost --conf-server "127.0.0.1:$port"
    for _ in $(seq 150); do
        [ "$(sinfo -h -n localhost -o %t 2>/dev/null | sort -u)" = "idle" ] && break
        sleep 0.2
    done
    if [ "$(sinfo -h -n localhost -o %t | sort -u)" != "idle" ]; then
        echo "slurm.sh: the node did not become idle; logs in $dir/log" >&2
        sinfo >&2 || true
        tail -n 20 "$dir"/log/*.log >&2 || true
        down
        exit 1
    fi
    echo "export SLURM_CONF=$dir/slurm.conf"
}

case $cmd in
    up) up ;;
    down) down ;;
    *) echo "usage: slurm.sh up|down DIR" >&2; exit 2 ;;
esac
