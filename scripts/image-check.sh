#!/usr/bin/env bash
# Proves fedsaga's container image contract without a registry: builds the
# static binary with the release ldflags, an image FROM scratch holding only
# it (as the Dockerfile's distroless/static stage does, minus CA files), and
# runs `fedsaga version` in it as user 65532 with a read-only root file
# system, then checks the version it prints and the image's OCI labels.
# Needs podman (apt-get install podman). Not part of make test.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v podman >/dev/null || {
  log "installing podman (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
}

VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}"
COMMIT="${COMMIT:-$(git rev-parse HEAD)}"
DATE="${DATE:-$(git log -1 --format=%cI)}"
BUILDINFO=github.com/fedsaga/fedsaga/internal/buildinfo
IMAGE="localhost/fedsaga-image-check:$VERSION"

ctx="$(mktemp -d)"
cleanup() { podman rmi -f "$IMAGE" >/dev/null 2>&1 || true; rm -rf "$ctx"; }
trap cleanup EXIT

log "building the static binary ($VERSION)"
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $BUILDINFO.version=$VERSION -X $BUILDINFO.commit=$COMMIT -X $BUILDINFO.date=$DATE" \
  -o "$ctx/fedsaga" ./cmd/fedsaga

cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM scratch
LABEL org.opencontainers.image.title="fedsaga" \\
      org.opencontainers.image.source="https://github.com/fedsaga/fedsaga" \\
      org.opencontainers.image.version="$VERSION" \\
      org.opencontainers.image.revision="$COMMIT"
COPY fedsaga /fedsaga
USER 65532:65532
ENTRYPOINT ["/fedsaga"]
CONTAINERFILE

log "building $IMAGE FROM scratch"
podman build -q -t "$IMAGE" "$ctx" >/dev/null

log "running fedsaga version in it: read-only, user 65532"
# The explicit limits: without them runc fails setting rlimits here.
out="$(podman run --rm --read-only --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host \
  "$IMAGE" version --output json)"
printf '%s\n' "$out"
grep -q "\"version\":\"$VERSION\"" <<<"$out" || { log "image prints the wrong version (want $VERSION)"; exit 1; }
grep -q "\"commit\":\"$COMMIT\"" <<<"$out" || { log "image prints the wrong commit (want $COMMIT)"; exit 1; }

user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
[[ "$user" == "65532:65532" ]] || { log "image user $user, want 65532:65532"; exit 1; }
label="$(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$IMAGE")"
[[ "$label" == "$COMMIT" ]] || { log "image revision label $label, want $COMMIT"; exit 1; }
log "image OK: $VERSION ($COMMIT), user 65532, read-only root file system"
