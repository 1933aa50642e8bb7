#!/usr/bin/env bash
# Packs what tools/gpu/gpu-check.sh needs on a bare GPU machine that has the CUDA
# runtime and cuBLAS but no Node.js, no npm registry and no models, and that
# takes at most 64 MiB of files per call (the lent machines of this project):
# Node.js itself, a CUDA build of the addon (made here), dist/, node_modules/
# and fixture models, as one xz-compressed tar cut into parts small enough to
# travel one per call. Writes .gpu-pack/ (git-ignored) and prints the calls.
#
#   AMULET_CUDA_ARCHITECTURES=90 npm run build:cuda -- --out build-cuda   # once, here
#   bash tools/gpu/gpu-pack.sh [--addon build-cuda/Release/amulet.node] [--out .gpu-pack]
#                          [--models smollm2-135m-instruct] [--part-mib 56]
#
# The Gemma fixture alone is 253 MB, five more calls: the default packs SmolLM2.
# --cpu-rehearsal takes a CPU-only addon, for rehearsing the whole path on a
# machine without a GPU (gpu-check.sh --pack DIR --gpu-layers 0), as
# tools/gpu/gpu-check.test.ts does.
set -euo pipefail
cd "$(dirname "$0")/../.."

addon=build-cuda/Release/amulet.node
out=.gpu-pack
models=smollm2-135m-instruct
part_mib=56
rehearsal=false
while [ $# -gt 0 ]; do
  case "$1" in
    --addon) addon=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cpu-rehearsal) rehearsal=true; shift ;;
    --models) models=$2; shift 2 ;;
    --part-mib) part_mib=$2; shift 2 ;;
    *) echo "gpu-pack: unknown option $1" >&2; exit 2 ;;
  esac
done

fail() { echo "gpu-pack: $*" >&2; exit 1; }
[ -f "$addon" ] || fail "no addon at $addon; build it first: AMULET_CUDA_ARCHITECTURES=90 npm run build:cuda -- --out build-cuda"
$rehearsal || grep -q '\.nv_fatbin' <(readelf -S "$addon") || fail "$addon has no CUDA kernels (.nv_fatbin): not a CUDA build"
stale=$(find native vendor/patches CMakeLists.txt -newer "$addon" -type f -print -quit)
[ -z "$stale" ] || fail "$addon is older than $stale: rebuild it"
[ -f dist/lib/index.js ] && [ -d node_modules/jest ] || fail "run npm ci and npm run build:ts first"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/addon" "$stage/models"
cp "$(node -p process.execPath)" "$stage/bin/node"
# The kernels make up most of the addon; the symbols are not needed to run it.
strip --strip-unneeded -o "$stage/addon/amulet.node" "$addon"
# OpenMP comes with GCC, which a CUDA image need not have at run time.
gomp=$(ldd "$addon" | awk '/libgomp/ { print $3 }')
[ -z "$gomp" ] || cp "$gomp" "$stage/lib/"
# The addon needs this machine's libstdc++ version or newer; gpu-check.sh
# uses the copy only where the image's is older.
mkdir -p "$stage/lib-fallback"
cp "$(ldd "$addon" | awk '/libstdc\+\+/ { print $3 }')" "$stage/lib-fallback/libstdc++.so.6"
cp -r dist node_modules "$stage/"
IFS=, read -ra names <<<"$models"
for name in "${names[@]}"; do
  gguf=$(node -e "require('./dist/test/support/fixtures.js').ensureFixtureModel(process.argv[1]).then(console.log)" "$name")
  cp "$gguf" "$stage/models/"
done
printf '%s\n' "$models" >"$stage/models.txt"

if [ -d "$out" ] && [ ! -f "$out/SHA256SUMS" ] && [ -n "$(ls -A "$out")" ]; then
  fail "$out holds files and no earlier pack: not replacing it"
fi
rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cf - . | xz -T0 -6 | split -b "${part_mib}M" -d -a 2 - "$out/part-"
(cd "$out" && sha256sum part-* >SHA256SUMS)

parts=("$out"/part-*)
echo "gpu-pack: ${#parts[@]} parts in $out/ ($(du -sh "$out" | cut -f1)). One device call per part, each started"
echo "within the machine's 30 s warm window of the last; the last call runs the check:"
for ((i = 0; i < ${#parts[@]}; i++)); do
  part=${parts[$i]}
  if ((i < ${#parts[@]} - 1)); then
    echo "  carry [\"$part\"]: mkdir -p /tmp/amulet-pack && cp $part /tmp/amulet-pack/ && ls -l /tmp/amulet-pack"
  else
    echo "  carry [\"$part\", \"$out/SHA256SUMS\"]: mkdir -p /tmp/amulet-pack && cp $part $out/SHA256SUMS /tmp/amulet-pack/ && bash tools/gpu/gpu-check.sh --pack /tmp/amulet-pack"
  fi
done
