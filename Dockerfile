# syntax=docker/dockerfile:1
# The image the Helm chart (helm/runnel) runs: `runnel` built by the Swift toolchain image,
# run on slim Debian with librocksdb7.8.
#
#   docker build -t runnel:0.1.0 .
#   docker run --rm -p 4437:4437 runnel:0.1.0          # one node, data inside the container
#
# Both stages must be the same Debian release (bookworm): runnel links against the
# librocksdb of the build stage and loads it from the runtime stage.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librocksdb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.* ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime is linked in, so the runtime stage needs no Swift libraries.
RUN swift build -c release --product runnel --static-swift-stdlib \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/runnel" /staging/runnel \
    && strip /staging/runnel

FROM ${RUNTIME_IMAGE}
# librocksdb7.8 with the codecs it was built with (snappy, lz4, zstd, zlib, bzip2) and
# gflags; curl for the chart's preStop hook.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librocksdb7.8 libsnappy1v5 liblz4-1 libzstd1 zlib1g libbz2-1.0 libgflags2.2 \
        curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 runnel \
    && useradd --system --uid 10001 --gid runnel --home-dir /var/lib/runnel --shell /usr/sbin/nologin runnel \
    && install -d -o runnel -g runnel -m 0750 /var/lib/runnel
COPY --from=build /staging/runnel /usr/local/bin/runnel
# The chart ships these scripts in a ConfigMap; they are here too for other orchestrators.
COPY --chmod=0755 helm/runnel/files/entrypoint.sh /usr/local/bin/runnel-k8s-entrypoint
COPY --chmod=0755 helm/runnel/files/prestop.sh /usr/local/bin/runnel-k8s-prestop
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/runnel
ENV RUNNEL_DATA_DIR=/var/lib/runnel/data
# 4437: client HTTP(S). 4438: Raft peers.
EXPOSE 4437 4438
ENTRYPOINT ["runnel"]
CMD ["serve", "--listen", "0.0.0.0:4437"]
