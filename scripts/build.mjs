#!/usr/bin/env node
// `npm run build`: materialises vendor/llama.cpp, builds the addon with
// cmake-js (incrementally: a second run rebuilds nothing that is current) and
// compiles the TypeScript. Options:
//   --native-only / --ts-only   one half only
//   --cuda                      build llama.cpp with CUDA (AMULET_CUDA_ARCHITECTURES picks the archs)
//   --portable                  no -march=native: the baseline prebuilds use
// Compiler outputs are cached by ccache when it is installed (CCACHE_DIR
// defaults to ~/.cache/amulet-llm/ccache), so a fresh clone rebuilds
// llama.cpp from the cache instead of from scratch.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const cacheDir = process.env.AMULET_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'amulet-llm');

function run(command, commandArgs, env = process.env) {
  execFileSync(command, commandArgs, { cwd: root, stdio: 'inherit', env });
}

function buildNative() {
  run(process.execPath, [path.join(root, 'vendor', 'materialize.mjs')]);
  const cmakeJs = path.join(path.dirname(fileURLToPath(import.meta.resolve('cmake-js/package.json'))), 'bin', 'cmake-js');
  const defines = [
    `--CDAMULET_NATIVE=${args.has('--portable') ? 'OFF' : 'ON'}`,
    `--CDAMULET_CUDA=${args.has('--cuda') ? 'ON' : 'OFF'}`,
  ];
  if (process.env.AMULET_CUDA_ARCHITECTURES) {
    defines.push(`--CDAMULET_CUDA_ARCHITECTURES=${process.env.AMULET_CUDA_ARCHITECTURES}`);
  }
  const env = {
    ...process.env,
    CCACHE_DIR: process.env.CCACHE_DIR ?? path.join(cacheDir, 'ccache'),
    // Paths under the checkout hash relative to it, so another clone hits the same cache entries.
    CCACHE_BASEDIR: process.env.CCACHE_BASEDIR ?? root,
  };
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  run(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--parallel', jobs, ...defines], env);
}

function buildTypeScript() {
  let tsc;
  try {
    tsc = path.join(path.dirname(fileURLToPath(import.meta.resolve('typescript/package.json'))), 'bin', 'tsc');
  } catch {
    return;  // an installed package ships compiled JavaScript and has no TypeScript to build
  }
  if (fs.existsSync(path.join(root, 'tsconfig.json'))) run(process.execPath, [tsc, '-p', 'tsconfig.json']);
}

try {
  if (!args.has('--ts-only')) buildNative();
  if (!args.has('--native-only')) buildTypeScript();
} catch (error) {
  process.stderr.write(`[amulet-llm] build failed: ${error.message}\n`);
  process.exit(1);
}
