#!/bin/bash
# Entry point of the docker Slurm cluster image: start the daemon of this container's role.
#
#   chiltepin-entrypoint slurmctld   controller (creates the shared munge key on first start)
#   chiltepin-entrypoint slurmd      compute node; node name = $NODE_NAME or the hostname (c1..c3)
#   chiltepin-entrypoint login       login node: munge + Slurm clients + chiltepin, stays up
#   chiltepin-entrypoint CMD...      anything else is run as is, without munge or Slurm daemons
#                                    (a container worker: `podman run IMAGE globus-compute-endpoint ...`)
set -euo pipefail

role=${1:-login}
[ $# -gt 0 ] && shift

MUNGE_KEY=/etc/munge/munge.key

log() { printf '[entrypoint %s] %s\n' "$role" "$*" >&2; }

start_munge() {
    # The key lives on the shared `munge` volume: slurmctld creates it once, the others wait.
    if [ "$role" = slurmctld ] && [ ! -s "$MUNGE_KEY" ]; then
        log "creating munge key"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY.tmp" --force
        else
            dd if=/dev/urandom of="$MUNGE_KEY.tmp" bs=1024 count=1 status=none
        fi
        mv "$MUNGE_KEY.tmp" "$MUNGE_KEY"
    fi
    for _ in $(seq 120); do
        [ -s "$MUNGE_KEY" ] && break
        log "waiting for $MUNGE_KEY"
        sleep 1
    done
    [ -s "$MUNGE_KEY" ] || { log "no munge key after 120 s"; exit 1; }
    chown munge:munge /etc/munge "$MUNGE_KEY"
    chmod 0700 /etc/munge
    chmod 0400 "$MUNGE_KEY"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
}

prepare_slurm_dirs() {
    mkdir -p /run/slurm /var/log/slurm /var/spool/slurmctld /var/spool/slurmd
}

wait_for_controller() {
    for _ in $(seq 120); do
        scontrol ping 2>/dev/null | grep -q "is UP" && return 0
        sleep 1
    done
    log "slurmctld did not answer within 120 s"
    return 1
}

case "$role" in
    slurmctld | slurmd | login) ;;
    *) exec "$role" "$@" ;;
esac

start_munge
prepare_slurm_dirs

case "$role" in
    slurmctld)
        exec slurmctld -D "$@"
        ;;
    slurmd)
        node=${NODE_NAME:-$(hostname -s)}
        mkdir -p "/var/spool/slurmd/$node"
        wait_for_controller
        exec slurmd -D -N "$node" "$@"
        ;;
    login)
        wait_for_controller
        log "ready: docker compose exec -u chiltepin login bash"
        exec sleep infinity
        ;;
esac
