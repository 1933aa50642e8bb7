#!/usr/bin/env node
// `npm run build:prebuild` (also run by `npm pack`, as `prepack`): makes the
// prebuilt addon an installed package loads without a compiler,
// prebuilds/<platform>-<arch>/amulet-llm.glibc.node (tagged
// with its C library, so node-gyp-build passes over it on musl systems), and
// beside it llama.cpp's RPC worker of the same build, ggml-rpc-server.
//
// prebuildify does the packaging (Node-API, --strip, the folder and file
// name node-gyp-build looks for), but it drives node-gyp, and node-gyp would
// rebuild the native (-march=native) dev build in build/. So prebuildify is
// handed scripts/prebuild-node-gyp.mjs as its `--node-gyp`: that builds with
// `scripts/build.mjs --portable --out build-portable` (a baseline x86-64 CPU,
// AVX2; its own cmake cache, so the dev build in build/ is never touched) and
// copies the result to where prebuildify picks it up, a staging folder inside
// build-portable/. Incremental: when nothing changed, cmake builds nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tuple = `${os.platform()}-${os.arch()}`;
if (!(manifest.prebuilds ?? []).includes(tuple)) {
  // package.json "prebuilds" lists the platforms the published package has prebuilds for.
  process.stderr.write(`[amulet-llm] no prebuild: ${tuple} is not listed in package.json "prebuilds"\n`);
  process.exit(0);
}
// Only what this run makes: no stale file from an earlier naming is packed.
fs.rmSync(path.join(root, 'prebuilds', tuple), { recursive: true, force: true });

const stage = path.join(root, 'build-portable', 'prebuildify');
fs.rmSync(path.join(stage, 'build'), { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
// prebuildify runs its --node-gyp as a program: make sure the wrapper is executable.
const wrapper = path.join(root, 'scripts', 'prebuild-node-gyp.mjs');
fs.chmodSync(wrapper, 0o755);
const prebuildify = path.join(path.dirname(fileURLToPath(import.meta.resolve('prebuildify/package.json'))), 'bin.js');
try {
  execFileSync(process.execPath, [
    prebuildify,
    '--napi', '--strip', '--tag-libc',
    '--name', manifest.name,
    '--cwd', stage,
    '--out', root,
    '--node-gyp', wrapper,
  ], { cwd: root, stdio: 'inherit' });
} catch (error) {
  process.stderr.write(`[amulet-llm] prebuild failed: ${error.message}\n`);
  process.exit(1);
}
const file = path.join(root, 'prebuilds', tuple, `${manifest.name}.glibc.node`);
// llama.cpp's RPC worker (`amulet rpc-server`), from the same portable build, beside the addon it speaks to.
const worker = path.join(root, 'prebuilds', tuple, `ggml-rpc-server${os.platform() === 'win32' ? '.exe' : ''}`);
fs.copyFileSync(path.join(root, 'build-portable', 'Release', path.basename(worker)), worker);
if (os.platform() !== 'win32') {
  try {
    execFileSync('strip', [worker]);
  } catch {
    // Unstripped works the same, only larger.
  }
}
for (const made of [file, worker]) {
  const size = (fs.statSync(made).size / 1048576).toFixed(1);
  process.stderr.write(`[amulet-llm] prebuild: ${path.relative(root, made)} (${size} MiB)\n`);
}
