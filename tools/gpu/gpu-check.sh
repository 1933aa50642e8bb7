#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (or, with --vulkan, any
# Vulkan device): gets a CUDA (Vulkan) build of the addon, runs the backend-vs-host realignment equivalence test
# with every layer offloaded, then measures amulet vs plain tokens/s on the
# GPU, and writes everything under $OUT (default bench/results/gpu-check/).
# Every step has a time limit, so the whole stays under 10 minutes on a GPU;
# on a software Vulkan device the limits are five times longer.
#
#   bash tools/gpu/gpu-check.sh                  # a development machine: builds with CUDA here
#   bash tools/gpu/gpu-check.sh --pack DIR       # a bare machine: unpacks tools/gpu/gpu-pack.sh's parts from DIR
#   bash tools/gpu/gpu-check.sh --vulkan         # any Vulkan device: builds the Vulkan variant into build-vulkan/
#                                                # (libvulkan-dev, glslc, spirv-headers) and runs on it; where
#                                                # vulkaninfo shows no GPU, on device 0 (lavapipe, in software)
#   options: --gpu-layers N (default 999: all), --models a,b (default: every fixture model, or the packed ones)
#
# On a development machine it needs the CUDA toolkit (nvcc, cuBLAS), CMake,
# Node.js >= 20, `npm ci` done and the fixture models cached; it builds into
# build/, where the addon is loaded from (`npm run build` returns to a CPU
# build). AMULET_CUDA_ARCHITECTURES picks the GPU generation (default 90:
# H100/H200; 89 for Ada, 86 for Ampere).
#
# With --pack it needs only the CUDA runtime and cuBLAS 13 (found through
# ldconfig, /usr/local/cuda*, Python's nvidia-* wheels, or AMULET_CUDA_LIB_DIRS)
# and Python 3 or xz: Node.js, the addon built elsewhere, dist/, node_modules/
# and the models come from the pack, and nothing is compiled.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/results/gpu-check}"
mkdir -p "$OUT"
export AMULET_CUDA_ARCHITECTURES="${AMULET_CUDA_ARCHITECTURES:-90}"

pack=
vulkan=
software=
unpacked="${TMPDIR:-/tmp}/amulet-gpu"  # where --pack unpacks to
gpu_layers=999
models=
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) pack=$2; shift 2 ;;
    --vulkan) vulkan=1; shift ;;
    --gpu-layers) gpu_layers=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
status=0
: >"$OUT/summary.txt"
note() { echo "$*" >>"$OUT/summary.txt"; }
slowdown=1  # how much longer each step may take than on a GPU
step() {  # step NAME SECONDS COMMAND...: runs one step under its own time limit
  local name=$1 limit=$(( $2 * slowdown )); shift 2
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  note "$name: rc=$rc, $(( $(date +%s) - t0 )) s"
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}

decompress() {  # xz where the image has it, else Python's lzma
  if command -v xz >/dev/null; then xz -dc
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)'
  fi
}

# Adds to LD_LIBRARY_PATH the folder of each CUDA library the addon links
# that the dynamic loader does not already know.
find_cuda_libraries() {
  local roots=() lib found
  IFS=: read -ra roots <<<"${AMULET_CUDA_LIB_DIRS:-}"
  roots+=(/usr/local /usr/lib/x86_64-linux-gnu /opt)
  roots+=($(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null))
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
    # Not a pipe: grep -q quits at the first match, and the writer's SIGPIPE would fail it under pipefail.
    grep -q " $lib " <(ldconfig -p) && continue
    found=$(find "${roots[@]}" -maxdepth 8 -name "$lib" 2>/dev/null | head -1)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
}

unpack() {  # unpack DIR: places Node.js, the addon, dist/, node_modules/ and the models
  (cd "$1" && sha256sum -c --quiet SHA256SUMS) || { note "pack: a part is missing or damaged"; return 1; }
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  cat "$1"/part-* | decompress | tar -C "$unpacked" -xf - || return 1
  rm -rf dist node_modules && mv "$unpacked/dist" "$unpacked/node_modules" .
  mkdir -p build/Release && mv "$unpacked/addon/amulet.node" build/Release/amulet.node
  export PATH="$unpacked/bin:$PATH" AMULET_MODELS_DIR="$unpacked/models"
  export LD_LIBRARY_PATH="$unpacked/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -n "$models" ] || models=$(cat "$unpacked/models.txt")
}

# The Vulkan variant, built here; any Vulkan device.
prepare_vulkan() {
  [ -z "$pack" ] || { echo "gpu-check: --vulkan builds here; it takes no --pack" >&2; exit 2; }
  # ggml's Vulkan backend skips CPU-type devices (lavapipe) unless they are named.
  if ! vulkaninfo --summary 2>/dev/null | grep -Eq 'PHYSICAL_DEVICE_TYPE_(DISCRETE|INTEGRATED)_GPU'; then
    export GGML_VK_VISIBLE_DEVICES="${GGML_VK_VISIBLE_DEVICES:-0}"
    software=1
    command -v vulkaninfo >/dev/null || note "no vulkaninfo (apt: vulkan-tools): taken as no Vulkan GPU"
    note "no Vulkan GPU: running on Vulkan device $GGML_VK_VISIBLE_DEVICES, with 5x the time limits"
  fi
  { vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|deviceType|driverInfo'; nproc; } >>"$OUT/summary.txt"
  # A cold build generates every shader: far longer than a warm CUDA build.
  step build 1800 node scripts/build.mjs --vulkan --portable --out build-vulkan || { cat "$OUT/summary.txt"; exit 1; }
  [ -z "$software" ] || slowdown=5
  export AMULET_VARIANT=vulkan
  note "node $(node --version) at $(command -v node)"
  node -e 'const s = require("./dist/lib/index.js").systemInfo();
    console.log(`addon ${s.addon.variant} at ${s.addon.file}, gpuOffload ${s.gpuOffload}`)' >>"$OUT/summary.txt" 2>&1 ||
    { note "the Vulkan addon does not load"; cat "$OUT/summary.txt"; exit 1; }
}

# The CUDA build: made here, or unpacked from --pack.
prepare_cuda() {
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
    nvcc --version 2>/dev/null | tail -1; nproc; } >>"$OUT/summary.txt" 2>&1
  if [ -n "$pack" ]; then
    # In this shell, not under `step`: its exports are for the steps that follow.
    t0=$(date +%s)
    unpack "$pack" >"$OUT/unpack.log" 2>&1 || { note "unpack failed"; cat "$OUT/unpack.log" "$OUT/summary.txt"; exit 1; }
    note "unpack: $(( $(date +%s) - t0 )) s"
  else
    step build 330 node scripts/build.mjs --cuda || { cat "$OUT/summary.txt"; exit 1; }
  fi
  find_cuda_libraries
  note "node $(node --version) at $(command -v node)"
  ldd build/Release/amulet.node >"$OUT/ldd.txt" 2>&1
  if [ -n "$pack" ] && grep -q "GLIBCXX_.*not found" "$OUT/ldd.txt"; then
    note "the image's libstdc++ is older than the addon's: using the packed one"
    export LD_LIBRARY_PATH="$unpacked/lib-fallback:$LD_LIBRARY_PATH"
    ldd build/Release/amulet.node >"$OUT/ldd.txt" 2>&1
  fi
  if grep -q 'not found' "$OUT/ldd.txt"; then
    note "the addon's libraries are missing (set AMULET_CUDA_LIB_DIRS):"; grep 'not found' "$OUT/ldd.txt" >>"$OUT/summary.txt"
    cat "$OUT/summary.txt"; exit 1
  fi
}

if [ -n "$vulkan" ]; then prepare_vulkan; else prepare_cuda; fi
export AMULET_TEST_MODELS="$models"
# The equivalence test with every layer on the GPU: the logits never leave it on the backend path.
# On a software device it takes over 20 minutes; vulkan.test.ts checks the graph against the host there.
if [ -z "$software" ]; then
  AMULET_TEST_GPU_LAYERS=$gpu_layers step equivalence 180 node node_modules/jest/bin/jest.js --ci --selectProjects model --testPathPatterns test/model/backend-sampling.test.ts
else
  note "equivalence: skipped on a software device"
fi
[ -z "$vulkan" ] || step vulkan 300 node node_modules/jest/bin/jest.js --ci --selectProjects model --testPathPatterns test/model/vulkan.test.ts
# A software device decodes a few tokens a second: a short bench still counts what agrees.
bench_tokens=$([ -z "$software" ] && echo 128 || echo 8)
step bench 120 node tools/gpu/gpu-bench.mjs --out "$OUT/bench.json" --gpu-layers "$gpu_layers" --max-tokens "$bench_tokens" \
  ${models:+--models "$models"}
cat "$OUT/bench.log" >>"$OUT/summary.txt"
note "total: $(( $(date +%s) - started )) s"
cat "$OUT/summary.txt"
exit "$status"
