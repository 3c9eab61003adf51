#!/usr/bin/env bash
# What can be checked mechanically about the docs: one version everywhere, and no page
# calling a built feature "planned". (That every store kind the CLI's help offers works
# is a test: snapshot-cli/tests/cli.rs, every_store_kind_the_help_offers_works.)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-docs: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || fail "no workspace version in Cargo.toml"
minor=${version%.*}

grep -q "^version = \"$version\"" snapshot-py/pyproject.toml \
  || fail "snapshot-py/pyproject.toml is not at version $version"
for line in $(grep -o 'path = "snapshot[-a-z0-9]*", version = "[0-9.]*"' Cargo.toml | grep -o '"[0-9.]*"$'); do
  [ "$line" = "\"$version\"" ] || fail "a workspace dependency is at $line, not $version"
done
grep -q "version = \"$minor\"" README.md || fail "README's dependency line is not at $minor"
head -n 5 CHANGELOG.md | grep -q "$minor" || fail "CHANGELOG's first entry is not $minor"
# Every "0.N" the README names as the current version is this one.
while read -r named; do
  [ "$named" = "$minor" ] || fail "README names the current version $named, not $minor"
done < <(grep -o 'SnapshotManager`, [0-9]*\.[0-9]*' README.md | grep -o '[0-9]*\.[0-9]*$')

# Built features are not "planned".
if grep -n -i -E "(encryption|labels|retention|streaming|checkpointer)[^.]{0,60}is planned|planned \(it is not in this version\)" README.md FORMAT.md CHANGELOG.md; then
  fail "a page calls a built feature planned"
fi
echo "check-docs: version $version everywhere; no built feature called planned"
