#!/usr/bin/env bash
# The GPU check of issue 7, for a machine with an NVIDIA GPU: builds the addon
# with CUDA, runs the backend-vs-host realignment equivalence test with every
# layer offloaded, then measures amulet vs plain tokens/s on the GPU, and
# writes everything under $OUT (default bench/results/gpu-check/).
#
#   bash bench/gpu-check.sh            # about 6-9 minutes on 16 cores, 10 at most
#
# Needs: the CUDA toolkit (nvcc, cuBLAS; CUDAToolkit_ROOT or nvcc on PATH),
# CMake >= 3.19, Node.js >= 20, `npm ci` done (node_modules with jest), the
# materialised vendor/llama.cpp and the two fixture models in the cache
# (~/.cache/amulet-llm/models, or AMULET_CACHE_DIR): a machine without network
# gets them copied along. AMULET_CUDA_ARCHITECTURES picks the GPU generation
# (default 90: H100/H200; 89 for Ada, 86 for Ampere). The build goes to
# build/, where the addon is loaded from: run `npm run build` afterwards to
# return to a CPU-only build.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/results/gpu-check}"
mkdir -p "$OUT"
export AMULET_CUDA_ARCHITECTURES="${AMULET_CUDA_ARCHITECTURES:-90}"
started=$(date +%s)
status=0
step() {  # step NAME SECONDS COMMAND...: a time limit per step, so the whole stays under 10 minutes
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name: rc=$rc, $(( $(date +%s) - t0 )) s" | tee -a "$OUT/summary.txt"
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}
: >"$OUT/summary.txt"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
  nvcc --version | tail -1; node --version; nproc; } >>"$OUT/summary.txt" 2>&1
step build 330 node scripts/build.mjs --cuda || { cat "$OUT/summary.txt"; exit 1; }
ldd build/Release/amulet.node >"$OUT/ldd.txt" 2>&1
# The equivalence test with every layer on the GPU: the logits never leave it on the backend path.
AMULET_TEST_GPU_LAYERS=999 step equivalence 150 npx jest --ci test/backend-sampling.test.ts
step bench 90 node bench/gpu-bench.mjs --out "$OUT/bench.json"
echo "total: $(( $(date +%s) - started )) s" | tee -a "$OUT/summary.txt"
cat "$OUT/summary.txt"
exit "$status"
