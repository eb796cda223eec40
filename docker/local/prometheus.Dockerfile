# A stand-in for prom/prometheus where no registry can be reached:
# Debian's Prometheus on a local Debian 12 base, the same entrypoint and
# paths (the compose file passes the flags).
ARG BASE=localhost/debian:bookworm
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus=2.42.* \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus /etc/prometheus \
 && chown nobody:nogroup /prometheus
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
