#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine for the workflow tests (run as root; idempotent).
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge if they are missing (no daemon is
# started by the packages), copies slurm.conf, gres.conf, cgroup.conf and task-prolog.sh (which
# logs each task's GPUs) from this folder to /etc/slurm, then starts munged (as user munge),
# `slurmctld -c` and `slurmd -N localhost`. No systemd is needed. Runtime state, pidfiles and logs
# live under /tmp/neovert-slurm. It waits for the node to be idle (resuming it if it was drained)
# and checks that a 1-GPU job sees a GPU. A second call while everything runs does nothing; a
# changed config restarts the slurmctld and slurmd this script started. stop-slurm.sh stops it.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # the daemons and mungekey live there

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOX=/tmp/neovert-slurm # also written in slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { echo "start-slurm: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"

# --- packages --------------------------------------------------------------------------------
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
    log "installing ${missing[*]}"
    # Keep the packages' postinst from starting munge/slurmd/slurmctld through /etc/init.d.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    status=0
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"${TMPDIR:-/tmp}/neovert-slurm-apt.log" 2>&1 || status=$?
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$status" -eq 0 ] || { tail -n 30 "${TMPDIR:-/tmp}/neovert-slurm-apt.log" >&2; die "apt-get failed ($status)"; }
fi

# --- state folders and configuration ---------------------------------------------------------
mkdir -p "$BOX"/{state,spool,run,log} /etc/slurm
changed=""
for file in slurm.conf gres.conf cgroup.conf task-prolog.sh; do
    if ! cmp -s "$HERE/$file" "/etc/slurm/$file"; then
        mode=644
        [ "$file" = task-prolog.sh ] && mode=755
        install -m "$mode" "$HERE/$file" "/etc/slurm/$file"
        changed=1
    fi
done
# SLURM resolves this machine's own name now and then; make sure it resolves.
getent hosts "$(uname -n)" >/dev/null || echo "127.0.0.1 $(uname -n)" >>/etc/hosts

# runs PID NAME: PID is a live (not zombie) process whose /proc/PID/comm is NAME
runs() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
pid_alive() { runs "$(cat "$1" 2>/dev/null)" "$2"; } # pid_alive PIDFILE NAME
stop_own() { # stop_own NAME: stop the daemon whose pid is in our pidfile $BOX/run/NAME.pid
    local pidfile="$BOX/run/$1.pid" pid
    pid_alive "$pidfile" "$1" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do runs "$pid" "$1" || break; sleep 0.2; done
    if runs "$pid" "$1"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq 1 $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "timed out waiting for $what (logs in $BOX/log)"
}

if [ -n "$changed" ]; then
    log "configuration changed: (re)starting slurmctld and slurmd"
    stop_own slurmd
    stop_own slurmctld
fi

# --- munge -----------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
fi
if ! munge -n </dev/null >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    # --force: start even if a killed munged left its socket behind
    runuser -u munge -- munged --force
    wait_for 10 munged bash -c 'munge -n </dev/null | unmunge'
    # remember that we started it: stop-slurm.sh stops munged only then
    cp /run/munge/munged.pid "$BOX/run/munged.pid"
fi

# --- slurmctld, slurmd -----------------------------------------------------------------------
if ! pid_alive "$BOX/run/slurmctld.pid" slurmctld; then
    # -c: start from a clean state (no jobs, no drain reason from an earlier run)
    slurmctld -c
    wait_for 30 slurmctld bash -c 'scontrol ping | grep -q UP'
fi
if ! pid_alive "$BOX/run/slurmd.pid" slurmd; then
    slurmd -N localhost
fi

node_state() { sinfo -h -N -n localhost -o %T 2>/dev/null | head -n 1; }
for _ in $(seq 1 150); do
    state=$(node_state)
    case "$state" in
        idle | mixed | allocated) break ;;
        *drain* | down*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 0.2
done
case "$(node_state)" in
    idle | mixed | allocated) ;;
    *) die "node localhost is '$(node_state)', not idle; see $BOX/log/slurmd.log and slurmctld.log" ;;
esac

# --- smoke test: a 1-GPU job is scheduled and sees one (fake) GPU ----------------------------
gpus=$(timeout 60 srun --gpus=1 --mem=100 -t 1 env | grep '^CUDA_VISIBLE_DEVICES=' || true)
[ "$gpus" = "CUDA_VISIBLE_DEVICES=0" ] || [ "$gpus" = "CUDA_VISIBLE_DEVICES=1" ] ||
    die "smoke test failed: srun --gpus=1 gave '${gpus:-no CUDA_VISIBLE_DEVICES}'"
log "SLURM is up: node localhost $(node_state), 2 fake GPUs, $gpus in a 1-GPU job"
