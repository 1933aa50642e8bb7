#!/usr/bin/env node
// Stands in for node-gyp when prebuildify runs it (scripts/prebuild.mjs passes
// this file as prebuildify's --node-gyp). prebuildify calls
// `<node-gyp> rebuild --target=… --devdir=… --arch=… --release` in its working
// folder and then takes the .node it finds in <that folder>/build/Release.
//
// This runs the real build instead: cmake-js through scripts/build.mjs, for a
// portable CPU baseline, into build-portable/, or cross-compiled into
// build-linux-arm64/ when prebuildify's --arch is arm64 (incremental, so not the clean
// rebuild node-gyp's `rebuild` would be: cmake rebuilds what changed, ccache
// serves the rest). The target Node version does not matter: the addon is
// Node-API only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  process.stderr.write(`prebuild-node-gyp: only \`rebuild\` is supported (got ${args.join(' ')})\n`);
  process.exit(1);
}
const arch = args.find((arg) => arg.startsWith('--arch='))?.slice('--arch='.length) ?? os.arch();
const cross = arch !== os.arch();
if (args.includes('--debug')) {
  process.stderr.write('prebuild-node-gyp: debug prebuilds are not supported\n');
  process.exit(1);
}

const outDir = cross ? `build-${os.platform()}-${arch}` : 'build-portable';
execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--native-only', '--portable',
  ...(cross ? ['--arch', arch] : []), '--out', outDir], {
  cwd: root,
  stdio: 'inherit',
});
const release = path.join(process.cwd(), 'build', 'Release');
fs.mkdirSync(release, { recursive: true });
// A copy: prebuildify strips and moves its file, the cmake output stays for the next incremental build.
fs.copyFileSync(path.join(root, outDir, 'Release', 'amulet.node'), path.join(release, 'amulet.node'));
