# fedsaga container image.
#
#   docker build -t fedsaga:v1.2.0 --build-arg VERSION=v1.2.0 \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(git log -1 --format=%cI) .
#   docker run --rm fedsaga:v1.2.0 version
#
# `make image` passes the three from git. The build context has no .git
# (see .dockerignore), so they are how the binary and the image learn which
# build they are: -ldflags -X for `fedsaga version`, OCI labels for the
# registry and scanners.
#
# The image holds one static binary, /fedsaga; the default command is
# `fedsaga worker`. Override the command for the other subcommands
# (`migrate`, `seed`, `health`, `order place ...`). With no --config file,
# configuration comes from FEDSAGA_* environment variables (see
# docker-compose.yml).
#
# No BuildKit-only syntax (RUN --mount) is used, so the classic builder
# (docker-compose v1) builds it as well as BuildKit does.
#
# Base images are pinned by digest (tag@sha256:...): a tag can be moved to
# other bytes, a digest cannot. The tag stays for people; the digest is what
# is pulled. To move to a newer image, resolve the tag's current digest (the
# multi-platform index) and replace both:
#
#   docker buildx imagetools inspect golang:1.26 --format '{{.Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot --format '{{.Manifest.Digest}}'
#
# (or `crane digest IMAGE`, `skopeo inspect docker://IMAGE`). The digests
# below were taken from public sources, not pulled on the machine that
# wrote them (it reaches no registry): a wrong one fails the build at the
# pull, never builds on other bytes.

# ---- build stage -----------------------------------------------------------
FROM golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647 AS build

WORKDIR /src

# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# Then the sources. A static binary (no cgo), with file-system paths trimmed
# from it, so it runs on a distroless/static base.
COPY . .
ARG VERSION=devel
ARG COMMIT=""
ARG DATE=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w \
        -X github.com/fedsaga/fedsaga/internal/buildinfo.version=${VERSION} \
        -X github.com/fedsaga/fedsaga/internal/buildinfo.commit=${COMMIT} \
        -X github.com/fedsaga/fedsaga/internal/buildinfo.date=${DATE}" \
      -o /fedsaga ./cmd/fedsaga

# ---- runtime stage ---------------------------------------------------------
# distroless/static: CA certificates, tzdata and /etc/passwd, nothing else
# (no shell, no curl/wget). The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

ARG VERSION=devel
ARG COMMIT=""
ARG DATE=""
# The licence is not stated by the repository yet: NOASSERTION (SPDX) until
# it is; pass --build-arg LICENSES=<SPDX expression> to set it. "created" is
# the commit's time, so rebuilding one commit gives the same labels.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="fedsaga" \
      org.opencontainers.image.description="Durable saga orchestration on Temporal across PostgreSQL databases" \
      org.opencontainers.image.source="https://github.com/fedsaga/fedsaga" \
      org.opencontainers.image.url="https://github.com/fedsaga/fedsaga" \
      org.opencontainers.image.documentation="https://github.com/fedsaga/fedsaga#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" \
      org.opencontainers.image.licenses="${LICENSES}"

COPY --from=build /fedsaga /fedsaga

# Numeric, so Kubernetes can check runAsNonRoot (a user name it cannot).
USER 65532:65532

# Worker health (/healthz, /readyz) and metrics.
EXPOSE 9464

ENTRYPOINT ["/fedsaga"]
CMD ["worker"]
