#!/usr/bin/env bash
# Deploy a tag of Harvest's images on this VPS, or roll back to the tag that ran before.
#
#   deploy/deploy.sh TAG        pull TAG, run the migrations, restart on it, smoke-test /api/health;
#                               when a step fails, return to the previous tag and exit 1
#   deploy/deploy.sh rollback   return to the tag that ran before the last deploy
#
# Run from anywhere on the VPS; it uses deploy/compose.yml and deploy/.env beside it, and keeps
# IMAGE_TAG in deploy/.env pointing at what runs. Migrations run in one transaction: a failed one
# changes nothing. A rollback after successful migrations runs the previous images on the newer schema,
# so a release's migrations must keep the previous release working (add first, remove a release later).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
env_file=${HARVEST_DEPLOY_ENV_FILE:-$here/.env}
previous_file=$here/.previous-tag
history_file=$here/deploy-history.log
health_url=${HARVEST_HEALTH_URL:-http://127.0.0.1:8000/api/health}
smoke_tries=${HARVEST_SMOKE_TRIES:-30}
smoke_wait_s=${HARVEST_SMOKE_WAIT_S:-5}
compose=(docker compose --project-directory "$here" -f "$here/compose.yml" --env-file "$env_file")

log() { printf '%s deploy: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "error: $*" >&2; exit 1; }

current_tag() { sed -n 's/^IMAGE_TAG=//p' "$env_file" | tail -n 1; }

set_tag() {
  local tag=$1
  if grep -q '^IMAGE_TAG=' "$env_file"; then
    sed -i "s/^IMAGE_TAG=.*/IMAGE_TAG=${tag}/" "$env_file"
  else
    printf 'IMAGE_TAG=%s\n' "$tag" >> "$env_file"
  fi
}

smoke_test() {
  local try
  for ((try = 1; try <= smoke_tries; try++)); do
    if curl -fsS --max-time 5 "$health_url" > /dev/null; then
      log "smoke test passed: $health_url answers"
      return 0
    fi
    sleep "$smoke_wait_s"
  done
  log "smoke test failed: $health_url did not answer 200 in $((smoke_tries * smoke_wait_s)) s"
  return 1
}

start() {
  "${compose[@]}" up -d --wait --wait-timeout 600 --remove-orphans
}

restore() {
  local tag=$1 why=$2
  if [[ -z $tag ]]; then
    die "$why, and there is no previous tag to return to"
  fi
  log "$why; rolling back to $tag"
  set_tag "$tag"
  start || die "rollback to $tag did not come up either: see \`docker compose logs\`"
  smoke_test || die "rollback to $tag is up but $health_url does not answer"
  printf '%s rolled back to %s (%s)\n' "$(date -u +%FT%TZ)" "$tag" "$why" >> "$history_file"
  log "rolled back to $tag"
}

deploy() {
  local tag=$1 previous
  [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "not an image tag: $tag"
  [[ -f $env_file ]] || die "$env_file is missing: copy deploy/.env.example to it and fill it in"
  previous=$(current_tag)
  if [[ $previous == "$tag" ]]; then
    log "$tag already runs; restarting anything that stopped"
  fi
  log "deploying $tag (running now: ${previous:-nothing})"
  set_tag "$tag"
  if ! "${compose[@]}" pull --quiet; then
    set_tag "$previous"
    die "could not pull the images of $tag (nothing changed; still on ${previous:-nothing})"
  fi
  if ! "${compose[@]}" run --rm migrate; then
    restore "$previous" "the migrations of $tag failed (the schema is unchanged)"
    exit 1
  fi
  if ! start; then
    restore "$previous" "$tag did not become healthy"
    exit 1
  fi
  if ! smoke_test; then
    restore "$previous" "$tag failed the smoke test"
    exit 1
  fi
  if [[ $previous != "$tag" ]]; then
    printf '%s\n' "$previous" > "$previous_file"
  fi
  printf '%s deployed %s (previous %s)\n' "$(date -u +%FT%TZ)" "$tag" "${previous:-none}" >> "$history_file"
  log "$tag is live"
}

case ${1:-} in
  "" | -h | --help)
    sed -n '2,11p' "$0"
    exit 2
    ;;
  rollback)
    [[ -f $previous_file ]] || die "no previous deploy recorded in $previous_file"
    restore "$(cat "$previous_file")" "rollback requested"
    ;;
  *)
    deploy "$1"
    ;;
esac
