# syntax=docker/dockerfile:1
#
# A static smppd image: build with the Go toolchain, run from distroless
# static (CA certificates for HTTPS callbacks and TLS upstreams, tzdata, a
# nonroot user; no shell, no libc).
#
#   docker build -t smppd .
#   docker run -d --name smppd -p 2775:2775 -p 9775:9775 -v smppd-data:/var/lib/smppd smppd
#   docker exec smppd smppd token create --name shop --smpp
#   docker exec smppd smppd status
#
# Configuration: SMPPD_<KEY> environment variables (docker run -e
# SMPPD_WINDOW=50), or a file mounted at /etc/smppd/smppd.yaml with
# -e SMPPD_CONFIG=/etc/smppd/smppd.yaml. Stop with `docker stop` (SIGTERM,
# graceful): give it --stop-timeout 30 under load.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: a static binary (bbolt, the SMPP stack and TLS are pure Go).
# -trimpath: no build paths in the binary. The .git directory is not in the
# build context (.dockerignore), so the version comes from the module only.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/smppd ./cmd/smppd \
 && /out/smppd version \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/smppd /usr/local/bin/smppd
# The data directory must exist, owned by the nonroot user (65532), mode 0700.
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/smppd
ENV SMPPD_DATA_DIR=/var/lib/smppd \
    SMPPD_LOG_FORMAT=json \
    SMPPD_HTTP_LISTEN=0.0.0.0:9775
VOLUME ["/var/lib/smppd"]
# 2775 SMPP, 3550 SMPP over TLS (with SMPPD_TLS_LISTEN), 9775 metrics/health.
# 9775 also serves /debug/pprof: publish it only to your monitoring network.
EXPOSE 2775 3550 9775
USER nonroot:nonroot
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/smppd"]
CMD ["serve"]
