#!/bin/sh
# Creates Mosquitto accounts in a password file: the bridge's, and one per account given: the
# agent worker's (roomcast-agent:<password>) and one per app/session.
#   scripts/mqtt-users.sh <password-file> <bridge-password> [<username>:<password> ...]
# An app account's username is its session id, which the ACL (mosquitto.acl) confines to it.
set -eu
file="$1"; bridge_password="$2"; shift 2
touch "$file"
mosquitto_passwd -b "$file" roomcast-bridge "$bridge_password"
for account in "$@"; do
  mosquitto_passwd -b "$file" "${account%%:*}" "${account#*:}"
done
chmod 0600 "$file"
# The broker drops to the mosquitto user before it reads the file (official image).
chown mosquitto:mosquitto "$file" 2>/dev/null || true
echo "mqtt-users: $(wc -l < "$file") account(s) in $file"
