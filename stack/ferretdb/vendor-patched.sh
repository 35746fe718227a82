#!/usr/bin/env bash
# vendor-patched.sh DIR: DIR becomes a copy of this launcher with its modules vendored and
# FerretDB 1.24's SQLite `_id` queries written as its `_id` index is, so SQLite answers them
# from the index; build it there with `go build -mod=vendor`.
#
# FerretDB 1.24 creates the unique index ON t (_ferretdb_sjson->"_id") but queries, updates and
# deletes by `_id` with WHERE _ferretdb_sjson->'$._id' = ?: the same value, yet SQLite only
# uses an expression index for the very same expression, so every `_id` look-up read the whole
# table (at 0.93 M documents: 14 s in the sqlite3 shell, 0.05 s with the index). The patch
# replaces that one constant (metadata.IDColumn); nothing else changes, and existing databases
# keep their index. (`go build -overlay` cannot replace files of the module cache.)
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"
cp "$here/main.go" "$here/go.mod" "$here/go.sum" "$out/"
cd "$out"
go mod vendor
f=vendor/github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata/metadata.go
grep -q "IDColumn = DefaultColumn + \"->'\$._id'\"" "$f" \
    || { echo "vendor-patched.sh: $f has no IDColumn line to replace (another FerretDB version?)" >&2; exit 1; }
sed -i "s|IDColumn = DefaultColumn + \"->'\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$f"
