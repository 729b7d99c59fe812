#!/usr/bin/env bash
# Before/after of a change in one run: bench tiles (the earlier code served beside ours), then
# bench ingest and bench processing run from the earlier checkout and from this one, in turn.
# Usage: bench/before_after.sh REV   (REV: the commit before the change, e.g. main~3)
# Sizes follow the benches' own variables (BENCH_TILES_POINTS, BENCH_INGEST_POINTS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: bench/before_after.sh REV}"
before="var/before-$(git rev-parse --short "$rev")"
[ -d "$before" ] || git worktree add --detach "$before" "$rev" >/dev/null
ln -sfn "$PWD/.venv" "$before/.venv"
mkdir -p var/bench "$before/var" && ln -sfn "$PWD/var/bench" "$before/var/bench"
scripts/install-debian-packages.sh --bench
python=("$PWD/.venv/bin/python" -m bench)
echo "=== before: $(git -C "$before" log --oneline -1)"
echo "=== after:  $(git log --oneline -1)"
BENCH_TILES_BEFORE="$PWD/$before" "${python[@]}" tiles
for name in ingest processing; do
  for side in "$before" .; do
    echo "=== $name from $side"
    (cd "$side" && "${python[@]}" "$name")
  done
done
