#!/bin/sh
set -e
# As upstream: flags go to redis-server; as root, the server runs as the redis user.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
# The official image builds Redis with protected mode off by default (a container's clients are
# never on its loopback); Debian's keeps it on. Same default here, unless the command sets it.
if [ "$1" = 'redis-server' ]; then
  case " $* " in *" --protected-mode "*) ;; *) set -- "$@" --protected-mode no ;; esac
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then exec setpriv --reuid=redis --regid=redis --init-groups "$@"; fi
exec "$@"
