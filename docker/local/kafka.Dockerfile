# A stand-in for apache/kafka where no registry can be reached: the same
# broker (the Maven Central jars scripts/kafka uses, copied into the build
# context by docker/test-stack.sh) on a local Debian 12 base with a JRE,
# configured from the same KAFKA_* environment (KAFKA_FOO_BAR=v becomes
# foo.bar=v), with the healthcheck script the compose file calls.
ARG BASE=localhost/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* python3-minimal=3.11.* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --user-group --home-dir /var/lib/kafka --create-home appuser \
 && mkdir -p /var/lib/kafka/data /opt/kafka/bin \
 && chown -R appuser:appuser /var/lib/kafka
COPY jars /opt/kafka/libs
COPY kafka_ready.py /opt/kafka/bin/kafka_ready.py
COPY kafka-entrypoint.sh /opt/kafka/bin/kafka-entrypoint.sh
COPY kafka-broker-api-versions.sh /opt/kafka/bin/kafka-broker-api-versions.sh
USER 1000:1000
EXPOSE 9092
ENTRYPOINT ["/opt/kafka/bin/kafka-entrypoint.sh"]
