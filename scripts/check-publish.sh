#!/usr/bin/env bash
# What the project publishes can be published:
# - every crate meant for crates.io packages and builds against the others
#   (`cargo publish --workspace --dry-run`; the rest are `publish = false`);
# - the Python distribution builds as a wheel and an sdist with maturin, `twine check`
#   passes on both, and a clean virtual environment installs the wheel and imports it.
#
#   bash scripts/check-publish.sh             # what CI runs
#   SNAPSHOT_PUBLISH_ALLOW_DIRTY=1 bash ...    # from a working tree with changes
set -euo pipefail
cd "$(dirname "$0")/.."

published="snapshot-codec snapshot-store snapshot-store-fs snapshot-store-s3 snapshot-state snapshot-cli"

# Cargo verifies each crate against the others through a temporary local registry and
# unpacks them under $CARGO_HOME/registry/src/-<hash>/; it never unpacks a version again,
# so an earlier dry run's copies (same version number, older sources) would be built
# instead. Remove our crates from such local-registry directories first (crates.io's
# own directory, `index.crates.io-*`, is left alone).
for unpacked in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/; do
  [ -d "$unpacked" ] || continue
  for crate in $published; do
    rm -rf "$unpacked$crate-"[0-9]*
  done
done

dirty=()
if [ "${SNAPSHOT_PUBLISH_ALLOW_DIRTY:-}" = 1 ]; then dirty=(--allow-dirty); fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo publish --workspace --dry-run "${dirty[@]}" 2>&1 | tee "$log" | grep -E "^ *(Packaging|Verifying|Uploading|warning|error)" || true
if [ "${PIPESTATUS[0]}" != 0 ] || grep -q "^error" "$log"; then
  echo "cargo publish --workspace --dry-run failed" >&2
  tail -40 "$log" >&2
  exit 1
fi
# Exactly the crates meant for crates.io were packaged.
packaged=$(sed -n 's/^ *Packaging \([a-z0-9-]*\) v.*/\1/p' "$log" | sort | tr '\n' ' ')
expected=$(tr ' ' '\n' <<<"$published" | sort | tr '\n' ' ')
if [ "$packaged" != "$expected" ]; then
  echo "packaged crates: $packaged; expected: $expected" >&2
  exit 1
fi
echo "cargo publish --dry-run: ok ($packaged)"

# The Python distribution.
tools=".tools/publish"
if [ ! -x "$tools/bin/python" ]; then
  python3 -m venv "$tools"
fi
"$tools/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" "twine>=5"
dist="$tools/dist"
rm -rf "$dist"
"$tools/bin/maturin" build --quiet -m snapshot-py/Cargo.toml -i "$tools/bin/python" --out "$dist"
"$tools/bin/maturin" sdist -m snapshot-py/Cargo.toml --out "$dist"
ls "$dist"
compgen -G "$dist/snapshot_state-*.whl" >/dev/null || { echo "no wheel built" >&2; exit 1; }
compgen -G "$dist/snapshot_state-*.tar.gz" >/dev/null || { echo "no sdist built" >&2; exit 1; }
"$tools/bin/twine" check --strict "$dist"/*

clean=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$clean"' EXIT
python3 -m venv "$clean/venv"
"$clean/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index "$dist"/snapshot_state-*.whl
(cd "$clean" && venv/bin/python - <<'PY'
import snapshot_state as snapshot
m = snapshot.open("memory:")
m.dump({"installed": True})
assert m.load() == {"installed": True}
print("the wheel installs into a clean venv and imports:", snapshot.__name__)
PY
)
