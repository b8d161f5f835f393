#!/usr/bin/env bash
# Stop the test SLURM cluster that start-slurm.sh started: cancel its jobs, then stop slurmd,
# slurmctld and (only if start-slurm.sh started it) munged. Only PIDs from the pidfiles under
# /tmp/neovert-slurm/run are signalled, and only if /proc/PID/comm names the expected daemon:
# TERM, then KILL after 20 s. `--purge` also deletes /tmp/neovert-slurm (state, logs).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # the daemons and mungekey live there

BOX=/tmp/neovert-slurm
log() { echo "stop-slurm: $*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 1; }

# runs PID NAME: PID is a live (not zombie) process whose /proc/PID/comm is NAME
runs() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] &&
        ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
pid_of() { # pid_of NAME: the pid in our pidfile if it runs NAME, else nothing
    local pid
    pid=$(cat "$BOX/run/$1.pid" 2>/dev/null) || return 0
    if runs "$pid" "$1"; then echo "$pid"; fi
}

stop() { # stop NAME
    local pid
    pid=$(pid_of "$1")
    if [ -z "$pid" ]; then
        rm -f "$BOX/run/$1.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        runs "$pid" "$1" || break
        sleep 0.2
    done
    if runs "$pid" "$1"; then
        log "$1 ($pid) ignored TERM for 20 s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$BOX/run/$1.pid"
    log "stopped $1 ($pid)"
}

# Jobs first: a job's slurmstepd would outlive slurmd. Every job on this box is the tests' own.
if [ -n "$(pid_of slurmctld)" ]; then
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        log "cancelling jobs: $(echo $jobs)"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(timeout 5 squeue -h -t running,completing -o %i 2>/dev/null || true)" ] && break
            sleep 0.2
        done
    fi
fi

stop slurmd
stop slurmctld
stop munged

if [ "${1:-}" = "--purge" ]; then
    rm -rf "$BOX"
    log "removed $BOX"
fi
