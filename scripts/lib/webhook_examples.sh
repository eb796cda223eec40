# Sourced: webhook_examples EVENT OUT -- writes the example deliveries of one
# GitHub event type (a JSON array) to OUT. Uses ../shared/data when the
# checkout has it, else the npm package @octokit/webhooks-examples (cached).
webhook_examples() {
  local event="$1" out="$2"
  local root shared cache tgz
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  shared="$root/../shared/data/github-webhooks/$event.json"
  if [ -f "$shared" ]; then
    cp "$shared" "$out"
    return 0
  fi
  cache="${DISPATCHD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dispatchd}/npm"
  tgz="$cache/octokit-webhooks-examples-7.6.1.tgz"
  if [ ! -f "$tgz" ]; then
    mkdir -p "$cache"
    (cd "$cache" && npm pack --silent @octokit/webhooks-examples@7.6.1 >/dev/null) || return 1
  fi
  python3 - "$tgz" "$event" "$out" <<'PY'
import json, sys, tarfile
tgz, event, out = sys.argv[1:4]
with tarfile.open(tgz) as t:
    index = json.load(t.extractfile("package/api.github.com/index.json"))
examples = next(e["examples"] for e in index if e["name"] == event)
json.dump(examples, open(out, "w"))
PY
}
