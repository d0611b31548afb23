# fedsaga container image.
#
#   docker build -t fedsaga .
#   docker run --rm fedsaga --help
#
# The image holds one static binary, /fedsaga; the default command is
# `fedsaga worker`. Override the command for the other subcommands
# (`migrate`, `seed`, `health`, `order place ...`). With no --config file,
# configuration comes from FEDSAGA_* environment variables (see
# docker-compose.yml).
#
# No BuildKit-only syntax (RUN --mount) is used, so the classic builder
# (docker-compose v1) builds it as well as BuildKit does.

# ---- build stage -----------------------------------------------------------
FROM golang:1.26 AS build

WORKDIR /src

# Dependencies first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

# Then the sources. A static binary (no cgo), with file-system paths trimmed
# from it, so it runs on a distroless/static base.
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /fedsaga ./cmd/fedsaga

# ---- runtime stage ---------------------------------------------------------
# distroless/static: CA certificates, tzdata and /etc/passwd, nothing else
# (no shell, no curl/wget). The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /fedsaga /fedsaga

USER nonroot:nonroot

# Worker health (/healthz, /readyz) and metrics.
EXPOSE 9464

ENTRYPOINT ["/fedsaga"]
CMD ["worker"]
