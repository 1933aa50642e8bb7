#!/usr/bin/env node
// The package's install step. A checkout of the repository builds everything:
// the addon for this CPU, the TypeScript, and the portable addon the prebuild
// is made from (build-portable/), which the tests run on too. An installed package keeps a matching
// prebuild when there is one and otherwise builds the addon from the sources
// it ships (vendor/llama.cpp included: no network, no node-llama-cpp).
//
// The step is optional for an installed package: npm may skip dependency
// install scripts (`npm install-scripts deny`, --ignore-scripts), and the
// prebuild is then found at run time by node-gyp-build all the same. Where
// there is no prebuild, `npm rebuild amulet-llm` (scripts approved) runs this.
//
//   AMULET_BUILD_FROM_SOURCE=1   build even when a prebuild matches
//   AMULET_CUDA=1                build from source with the CUDA backend
//   AMULET_VULKAN=1              build from source with the Vulkan backend (in a
//                                checkout: also, into build-vulkan/)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isCheckout = fs.existsSync(path.join(root, 'tsconfig.json'));
const cuda = process.env.AMULET_CUDA === '1';
const vulkan = process.env.AMULET_VULKAN === '1';

function log(message) {
  process.stderr.write(`[amulet-llm] ${message}\n`);
}

/** The addon node-gyp-build would load (a local build or a matching prebuild), if it loads. */
function usableBinary() {
  try {
    const load = createRequire(import.meta.url)('node-gyp-build');
    const file = load.resolve(root);
    load(root);
    return file;
  } catch {
    return undefined;
  }
}

/** CPU features the linux-x64 prebuild needs (it is built for AVX2, see CMakeLists.txt) that this CPU lacks. */
function missingCpuFeatures() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return [];
  try {
    const flags = new Set(/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim().split(/\s+/));
    return ['avx', 'avx2', 'fma', 'f16c', 'bmi2'].filter((flag) => !flags.has(flag));
  } catch {
    return [];
  }
}

function reasonToBuild() {
  if (isCheckout) return 'a checkout builds from source';
  if (process.env.AMULET_BUILD_FROM_SOURCE === '1') return 'AMULET_BUILD_FROM_SOURCE=1';
  if (cuda) return 'AMULET_CUDA=1';
  if (vulkan) return 'AMULET_VULKAN=1';
  const binary = usableBinary();
  if (!binary) return `no prebuild for ${process.platform}-${process.arch} (or it does not load)`;
  const missing = missingCpuFeatures();
  if (binary.includes(`${path.sep}prebuilds${path.sep}`) && missing.length > 0) {
    return `this CPU lacks ${missing.join(', ')}, which the prebuild needs`;
  }
  log(`using ${path.relative(root, binary)}`);
  return undefined;
}

const reason = reasonToBuild();
if (reason) {
  if (!isCheckout) log(`building the addon from source (${reason}): needs a C++17 compiler and CMake >= 3.19`);
  const buildArgs = isCheckout ? [] : ['--native-only'];
  if (cuda) buildArgs.push('--cuda');
  // An installed package loads build/ (node-gyp-build's folder); a checkout keeps its CPU build there.
  if (vulkan && !isCheckout) buildArgs.push('--vulkan');
  const build = (args) => execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), ...args],
    { stdio: 'inherit' });
  try {
    build(buildArgs);
    if (isCheckout) build(['--native-only', '--portable', '--out', 'build-portable']);
    if (isCheckout && vulkan) build(['--native-only', '--vulkan', '--out', 'build-vulkan']);
  } catch {
    process.exit(1);
  }
}
