#!/bin/sh
set -e
# As upstream: as root, hand /mosquitto to the broker's user, then run the command.
if [ "$(id -u)" = '0' ]; then
  [ -d /mosquitto ] && chown -R mosquitto:mosquitto /mosquitto 2>/dev/null || true
fi
exec "$@"
