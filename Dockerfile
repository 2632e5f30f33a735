# syntax=docker/dockerfile:1
# telegate container image: a drop-in for grafana/alloy in the setup guide's Deployment.
#
#   docker build -t telegate:0.1.0 .
#   docker run --rm -e ALLOY_RECEIVER_TOKEN=... -p 4317:4317 -p 4318:4318 -p 12345:12345 telegate:0.1.0
#
# Build stage: Debian 12 with the packages of scripts/setup.sh, built by scripts/container-build.sh
# (CI runs the same script on a Debian 12 host: scripts/check-deploy.sh, docs/deploy.md).
# Runtime stage: Debian 12 slim with only the shared libraries telegate needs
# (scripts/container-runtime-packages.txt), user 10001, nothing written outside
# /var/lib/alloy/data, so it runs with a read-only root filesystem.
ARG DEBIAN_IMAGE=debian:12.11-slim

FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY . .
RUN scripts/container-build.sh --install-deps --build-dir /src/build/container --prefix /out

FROM ${DEBIAN_IMAGE} AS runtime
COPY scripts/container-runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(grep -v '^#' /tmp/runtime-packages.txt) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 telegate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/alloy --no-create-home \
      --shell /usr/sbin/nologin telegate \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/alloy /var/lib/alloy/data \
 && install -d -m 0755 /etc/alloy
COPY --from=build /out/ /
# The setup guide's configuration with its defects fixed; it reads ALLOY_RECEIVER_TOKEN as the
# guide's Secret provides it. Kubernetes manifests mount their own file over /etc/alloy.
COPY examples/lgtm.alloy /etc/alloy/config.alloy

LABEL org.opencontainers.image.title="telegate" \
      org.opencontainers.image.description="Authenticated OTLP gateway that runs Grafana Alloy configurations" \
      org.opencontainers.image.version="0.1.0"
USER 10001:10001
WORKDIR /var/lib/alloy
EXPOSE 4317 4318 12345
ENTRYPOINT ["/usr/bin/telegate"]
CMD ["run", "/etc/alloy/config.alloy", "--server.http.listen-addr=0.0.0.0:12345", "--storage.path=/var/lib/alloy/data"]
