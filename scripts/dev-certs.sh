#!/bin/sh
# Makes a development CA and a server certificate for Mosquitto's TLS listeners (MQTT over TLS on
# 8883, MQTT over secure WebSockets on 8884): certs/ca.crt (give it to the apps to trust),
# certs/server.crt and certs/server.key (Mosquitto's). For development and tests only: in
# production put a real certificate there (server.crt: the full chain, server.key, ca.crt: the CA
# that signed it) and keep this script away from it.
#
#   sh scripts/dev-certs.sh [dir] [host ...]      # default dir: certs; hosts besides localhost,
#                                                 # mosquitto and 127.0.0.1 (the name apps dial)
# Keeps an existing certificate (FORCE=1 makes new ones). POSIX sh and openssl only, so that
# docker compose can run it in a bare Alpine container.
set -eu
dir="${1:-certs}"
[ $# -gt 0 ] && shift
if [ -f "$dir/server.crt" ] && [ -z "${FORCE:-}" ]; then
  echo "dev-certs: $dir/server.crt exists; keeping it (FORCE=1 to replace)"
  exit 0
fi
mkdir -p "$dir"
san="DNS:localhost,DNS:mosquitto,IP:127.0.0.1"
for host in "$@"; do
  case "$host" in
    *[!0-9.]*) san="$san,DNS:$host" ;;
    *) san="$san,IP:$host" ;;
  esac
done
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=Roomcast development CA" \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=${1:-localhost}" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 825 \
  -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
# Mosquitto's container runs as its own user: it must be able to read the key.
chmod 644 "$dir/server.key" "$dir/server.crt" "$dir/ca.crt"
chmod 600 "$dir/ca.key"
echo "dev-certs: CA $dir/ca.crt, server certificate $dir/server.crt for $san"
