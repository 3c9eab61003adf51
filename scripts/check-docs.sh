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
grep -q "version = \"$minor\"" docs/crates-and-features.md \
  || fail "the guide's dependency line (docs/crates-and-features.md) is not at $minor"
head -n 5 CHANGELOG.md | grep -q "$minor" || fail "CHANGELOG's first entry is not $minor"
# Every "0.N" the README names as the current version is this one.
while read -r named; do
  [ "$named" = "$minor" ] || fail "README names the current version $named, not $minor"
done < <(grep -oh 'SnapshotManager`, [0-9]*\.[0-9]*' README.md docs/*.md | grep -o '[0-9]*\.[0-9]*$')

# Built features are not "planned".
if grep -n -i -E "(encryption|labels|retention|streaming|checkpointer)[^.]{0,60}is planned|planned \(it is not in this version\)" README.md docs/*.md FORMAT.md CHANGELOG.md; then
  fail "a page calls a built feature planned"
fi
# The README stays one page: at most 1,500 words.
words=$(wc -w < README.md)
[ "$words" -le 1500 ] || fail "README.md has $words words (at most 1500: move detail into docs/)"
# Every page of the guide is run as doctests (snapshot-state/src/lib.rs lists them).
for page in docs/*.md; do
  grep -q "\"$(basename "$page")\"" snapshot-state/src/lib.rs \
    || fail "$page is not listed among the guide's doctest pages in snapshot-state/src/lib.rs"
done
echo "check-docs: version $version everywhere; no built feature called planned; README $words words; every guide page tested"
