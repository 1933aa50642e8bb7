#!/usr/bin/env node
// `npm run build`: materialises vendor/llama.cpp, builds the addon with
// cmake-js (incrementally: a second run rebuilds nothing that is current) and
// compiles the TypeScript. Options:
//   --native-only / --ts-only   one half only
//   --cuda                      build llama.cpp with CUDA (AMULET_CUDA_ARCHITECTURES picks the archs)
//   --vulkan                    build llama.cpp with Vulkan (needs libvulkan-dev, glslc, spirv-headers)
//   --portable                  a baseline x86-64 CPU (AVX2), as the prebuild uses
//   --arch arm64                cross-compile for linux-arm64 (portable, armv8-a) with
//                               g++-aarch64-linux-gnu and cmake/aarch64-linux-gnu.cmake,
//                               into build-linux-arm64/ unless --out says otherwise
//   --out <dir>                 cmake-js build folder (default build/, where
//                               node-gyp-build looks; the prebuild uses build-portable/)
// In a checkout, the build folder also gets amulet_test.node, the addon with
// the test hooks that the tests and the benchmark load (AMULET_TEST_ADDON),
// and the C++ unit tests of native/tests/ (AMULET_BUILD_TESTS), which an
// installed package does not ship.
//   --CD<VAR>=<value>           a CMake cache entry, passed on to cmake-js, e.g.
//                               --CDCUDA_cublas_LIBRARY=/opt/cublas/lib/libcublas.so
// Compiler outputs are cached by ccache when it is installed (CCACHE_DIR
// defaults to ~/.cache/amulet-llm/ccache), so a fresh clone rebuilds
// llama.cpp from the cache instead of from scratch.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
/** The CMake toolchain file of each architecture this machine cross-compiles to. */
const crossToolchains = { 'linux-x64 arm64': 'aarch64-linux-gnu.cmake' };
const archIndex = argv.indexOf('--arch');
const arch = archIndex >= 0 ? argv.splice(archIndex, 2)[1] : os.arch();
const cross = arch !== os.arch();
const toolchain = crossToolchains[`${os.platform()}-${os.arch()} ${arch}`];
if (cross && !toolchain) throw new Error(`cannot cross-compile from ${os.platform()}-${os.arch()} to ${arch}`);
const outIndex = argv.indexOf('--out');
const outDir = outIndex >= 0 ? argv.splice(outIndex, 2)[1] : cross ? `build-${os.platform()}-${arch}` : 'build';
if (!outDir) throw new Error('--out needs a folder');
const args = new Set(argv);
const cacheDir = process.env.AMULET_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'amulet-llm');
// A checkout (not an installed package) also builds what only tests and benchmarks use.
const isCheckout = fs.existsSync(path.join(root, 'tsconfig.json'));

function run(command, commandArgs, env = process.env) {
  execFileSync(command, commandArgs, { cwd: root, stdio: 'inherit', env });
}

function buildNative() {
  run(process.execPath, [path.join(root, 'vendor', 'materialize.mjs')]);
  const cmakeJs = path.join(path.dirname(fileURLToPath(import.meta.resolve('cmake-js/package.json'))), 'bin', 'cmake-js');
  // A cross build runs on CPUs other than this one: it is always portable.
  const portable = args.has('--portable') || cross;
  const tests = isCheckout && fs.existsSync(path.join(root, 'native', 'tests'));
  // Every option is passed every time, so switching --portable or --cuda on
  // and off again leaves no stale value in the cmake cache.
  const defines = [
    `--CDAMULET_NATIVE=${portable ? 'OFF' : 'ON'}`,
    `--CDAMULET_CUDA=${args.has('--cuda') ? 'ON' : 'OFF'}`,
    `--CDAMULET_VULKAN=${args.has('--vulkan') ? 'ON' : 'OFF'}`,
    `--CDAMULET_CUDA_ARCHITECTURES=${process.env.AMULET_CUDA_ARCHITECTURES ?? ''}`,
    // ggml's own thread pool, not OpenMP, in every build: on a 2-core machine
    // OpenMP's threads, spinning at the graph's barriers while the Node.js
    // thread takes a core, decoded 2.5 times slower than the pool, and a
    // build without it needs no libgomp (absent from slim images).
    // libstdc++ stays shared: linked in, it would raise the glibc it needs
    // from 2.34 to 2.36 (arc4random).
    '--CDGGML_OPENMP=OFF',
    `--CDAMULET_TEST_ADDON=${isCheckout ? 'ON' : 'OFF'}`,
    `--CDAMULET_BUILD_TESTS=${tests ? 'ON' : 'OFF'}`,
    ...(cross ? [`--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', toolchain)}`] : []),
    ...argv.filter((arg) => arg.startsWith('--CD')),
  ];
  const env = {
    ...process.env,
    CCACHE_DIR: process.env.CCACHE_DIR ?? path.join(cacheDir, 'ccache'),
    // Paths under the checkout hash relative to it, so another clone hits the same cache entries.
    CCACHE_BASEDIR: process.env.CCACHE_BASEDIR ?? root,
  };
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  // `cmake-js compile` would configure only a new folder (ignoring changed
  // options) and wipe the folder when a build fails; instead cmake is
  // re-run in place when the options differ from the last configure, then
  // the build is incremental.
  const stamp = path.join(root, outDir, '.amulet-configure.json');
  const configuration = `${JSON.stringify(defines)}\n`;
  const configured = fs.existsSync(path.join(root, outDir, 'CMakeCache.txt')) &&
    fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === configuration;
  if (!configured) {
    fs.rmSync(stamp, { force: true });
    run(process.execPath, [cmakeJs, 'configure', '--out', outDir, ...defines], env);
    fs.writeFileSync(stamp, configuration);
  }
  run(process.execPath, [cmakeJs, 'build', '--out', outDir, '--parallel', jobs, ...defines], env);
  // A test binary left by an earlier build with the tests on would pass for a current one.
  if (!tests) fs.rmSync(path.join(root, outDir, 'amulet_native_tests'), { force: true });
}

function buildTypeScript() {
  let tsc;
  try {
    tsc = path.join(path.dirname(fileURLToPath(import.meta.resolve('typescript/package.json'))), 'bin', 'tsc');
  } catch {
    return;  // an installed package ships compiled JavaScript and has no TypeScript to build
  }
  if (!fs.existsSync(path.join(root, 'tsconfig.json'))) return;
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  run(process.execPath, [tsc, '-p', path.join('playground', 'tsconfig.json')]);
  pruneStaleOutputs(path.join(root, 'dist'));
  writeEsmEntry();
  copyPlaygroundFiles();
}

/**
 * The playground's files besides its compiled TypeScript: the page, its
 * style and icon, and markdown-it's browser bundle with its licence, so the
 * page needs nothing from the network.
 */
function copyPlaygroundFiles() {
  const out = path.join(root, 'dist', 'playground');
  fs.mkdirSync(path.join(out, 'vendor'), { recursive: true });
  for (const name of ['index.html', 'style.css', 'icon.svg']) {
    fs.copyFileSync(path.join(root, 'playground', name), path.join(out, name));
  }
  const markdownIt = path.dirname(fileURLToPath(import.meta.resolve('markdown-it/package.json')));
  fs.copyFileSync(path.join(markdownIt, 'dist', 'browser', 'markdown-it.esm.min.mjs'), path.join(out, 'vendor', 'markdown-it.mjs'));
  fs.copyFileSync(path.join(markdownIt, 'LICENSE'), path.join(out, 'vendor', 'markdown-it.LICENSE.txt'));
}

/** Removes compiled files whose TypeScript source is gone (tsc never deletes outputs). */
function pruneStaleOutputs(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      pruneStaleOutputs(file);
      continue;
    }
    const match = /^(.*)\.(js|js\.map|d\.ts)$/.exec(entry.name);
    if (!match) continue;
    const source = path.join(root, path.relative(path.join(root, 'dist'), dir), `${match[1]}.ts`);
    if (!fs.existsSync(source)) fs.rmSync(file);
  }
}

/** Writes a file only when its content changes, so a second build leaves it (and its mtime) alone. */
function writeIfChanged(file, content) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content) return;
  fs.writeFileSync(file, content);
}

/**
 * The ESM entry point, dist/lib/index.mjs, and its types. It re-exports the
 * CommonJS build rather than being a second compilation, so `import` and
 * `require` in one process share one module instance (one AmuletError class,
 * one loaded addon). The export list is read off the compiled module, so it
 * follows lib/index.ts.
 */
function writeEsmEntry() {
  const libDir = path.join(root, 'dist', 'lib');
  const names = Object.keys(createRequire(import.meta.url)(path.join(libDir, 'index.js')))
    .filter((name) => name !== '__esModule' && name !== 'default')
    .sort();
  writeIfChanged(path.join(libDir, 'index.mjs'), [
    '// Generated by scripts/build.mjs: the ESM entry point re-exports the CommonJS build.',
    "import cjs from './index.js';",
    '',
    `export const { ${names.join(', ')} } = cjs;`,
    '',
  ].join('\n'));
  writeIfChanged(path.join(libDir, 'index.d.mts'), [
    '// Generated by scripts/build.mjs: the types of the ESM entry point (index.mjs).',
    "export * from './index.js';",
    '',
  ].join('\n'));
}

try {
  if (!args.has('--ts-only')) buildNative();
  if (!args.has('--native-only')) buildTypeScript();
} catch (error) {
  process.stderr.write(`[amulet-llm] build failed: ${error.message}\n`);
  process.exit(1);
}
