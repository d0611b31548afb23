#!/usr/bin/env bash
# Checks that the read API's generated GraphQL code (federation/api/gql) is
# what gqlgen, at the version go.mod pins (go tool gqlgen), generates from
# federation/api/schema.graphql and gqlgen.yml. It generates into a copy of
# the tree, so the working tree is never touched. Fix a failure with
# `go generate ./federation/api` and commit the result.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar --exclude-vcs --exclude=./bin --exclude=./.run --exclude=./bench-results --exclude=./fedsaga --exclude='*.test' -cf - . | tar -xf - -C "$tmp"
(cd "$tmp/federation/api" && GOFLAGS=-buildvcs=false go tool gqlgen generate)
if ! diff -ru federation/api/gql "$tmp/federation/api/gql" >"$tmp/gql.diff"; then
  head -n 40 "$tmp/gql.diff" >&2
  log "federation/api/gql is not what gqlgen generates from federation/api/schema.graphql: run go generate ./federation/api and commit it"
  exit 1
fi
