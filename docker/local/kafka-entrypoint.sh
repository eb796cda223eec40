#!/bin/bash
# The stand-in broker's start: server.properties from the KAFKA_*
# environment (as the official image reads it), the storage formatted
# once, then the broker in the foreground.
set -euo pipefail
props=/var/lib/kafka/server.properties
: > "$props"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_*) key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z_' 'a-z.'); printf '%s=%s\n' "$key" "$value" >> "$props" ;;
  esac
done < <(env)
grep -q '^log.dirs=' "$props" || echo "log.dirs=/var/lib/kafka/data" >> "$props"
cp=/opt/kafka/libs/*
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid | tail -n 1)
  java -cp "$cp" kafka.tools.StorageTool format -t "$id" -c "$props"
fi
exec java -Xms256m -Xmx768m -cp "$cp" kafka.Kafka "$props"
