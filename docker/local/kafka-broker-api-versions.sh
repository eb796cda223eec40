#!/bin/sh
# The stand-in's answer to the compose healthcheck: the broker on
# localhost:9092 answers a Metadata request listing a broker.
exec python3 /opt/kafka/bin/kafka_ready.py 127.0.0.1 9092
