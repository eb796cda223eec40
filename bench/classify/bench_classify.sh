#!/usr/bin/env bash
# make bench-classify: the local model's inference rate per core against the
# 20,000 issues/s target, and its 5-fold cross-validated macro-F1 on the
# NLBSE'24 training file (../shared; without it, generated issues and no
# F1). The LLM figures (rate-limit, llm-concurrency) come with the openai
# provider, which is not built yet.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
nlbse="$root/../shared/data/nlbse24/issues_train.csv"
if [ -f "$nlbse" ]; then
  csv="$nlbse"
  f1=$(build/dispatchd eval "$nlbse" --cv 5 | tail -1 | awk '{print $5}')
else
  scripts/gen-issues 2000 > "$work/issues.jsonl"
  python3 - "$work/issues.jsonl" "$work/issues.csv" <<'PY'
import csv, json, sys
with open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["label", "title", "body"])
    for line in open(sys.argv[1]):
        d = json.loads(line)
        w.writerow(["?", d.get("title", ""), d.get("body") or ""])
PY
  csv="$work/issues.csv"
  f1="n/a"
  echo "# ../shared is absent: generated issues, no F1" >&2
fi
read -r rate n < <(build/bench/bench_local config/model.bin "$csv")
echo "BENCH local-model issues_per_s_per_core=$rate cv_macro_f1=$f1 target_per_s=20000 ratio=$(python3 -c "print(round($rate / 20000, 2))") issues=$n"
