#!/usr/bin/env node
// `npm run build:prebuild` (also run by `npm pack`, as `prepack`): makes the
// prebuilt addon an installed package loads without a compiler,
// prebuilds/<platform>-<arch>/amulet-llm.glibc.node (tagged
// with its C library, so node-gyp-build passes over it on musl systems), and
// beside it llama.cpp's RPC worker of the same build, ggml-rpc-server.
//
//   --arch arm64        cross-compiles the prebuild for linux-arm64
//                       (g++-aarch64-linux-gnu, cmake/aarch64-linux-gnu.cmake)
//   --variant vulkan    instead of the CPU prebuild, the GPU variant package
//   --variant cuda      @amulet-llm/<platform>-<arch>-<variant>: its folder in
//                       build-variants/ and, packed, a tarball in the checkout
//
// A GPU backend grows the addon by tens of MB, so GPU variants are packages of
// their own, installed only by those who want them, which the loader prefers
// when they find a GPU (lib/addon.ts); the CPU prebuilds stay in amulet-llm.
//
// prebuildify does the CPU prebuild's packaging (Node-API, --strip, the
// folder and file name node-gyp-build looks for), but it drives node-gyp, and
// node-gyp would rebuild the native (-march=native) dev build in build/. So
// prebuildify is handed scripts/prebuild-node-gyp.mjs as its `--node-gyp`:
// that builds with `scripts/build.mjs --portable --out build-portable` (a
// baseline x86-64 CPU, AVX2; its own cmake cache, so the dev build in build/
// is never touched; build-linux-arm64/ for arm64) and copies the result to
// where prebuildify picks it up, a staging folder inside that build folder.
// Incremental: when nothing changed, cmake builds nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const arch = option('--arch', os.arch());
const variant = option('--variant', 'cpu');
const cross = arch !== os.arch();
const tuple = `${os.platform()}-${arch}`;
/** The strip of the target's binutils: the host's does not read another architecture's ELF files. */
const strip = cross ? 'aarch64-linux-gnu-strip' : 'strip';
const exe = os.platform() === 'win32' ? '.exe' : '';

function fail(message) {
  process.stderr.write(`[amulet-llm] prebuild failed: ${message}\n`);
  process.exit(1);
}

function stripped(file) {
  if (os.platform() === 'win32') return;
  try {
    execFileSync(strip, ['--strip-unneeded', file]);
  } catch {
    // Unstripped works the same, only larger.
  }
}

function report(files) {
  for (const made of files) {
    const size = (fs.statSync(made).size / 1048576).toFixed(1);
    process.stderr.write(`[amulet-llm] prebuild: ${path.relative(root, made)} (${size} MiB)\n`);
  }
}

/** The CPU prebuild, inside this package: prebuilds/<platform>-<arch>/. */
function cpuPrebuild() {
  if (!(manifest.prebuilds ?? []).includes(tuple)) {
    // package.json "prebuilds" lists the platforms the published package has prebuilds for.
    process.stderr.write(`[amulet-llm] no prebuild: ${tuple} is not listed in package.json "prebuilds"\n`);
    process.exit(0);
  }
  // Only what this run makes: no stale file from an earlier naming is packed.
  fs.rmSync(path.join(root, 'prebuilds', tuple), { recursive: true, force: true });

  const buildDir = cross ? `build-${tuple}` : 'build-portable';
  const stage = path.join(root, buildDir, 'prebuildify');
  fs.rmSync(path.join(stage, 'build'), { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  // prebuildify runs its --node-gyp as a program: make sure the wrapper is executable.
  const wrapper = path.join(root, 'scripts', 'prebuild-node-gyp.mjs');
  fs.chmodSync(wrapper, 0o755);
  const prebuildify = path.join(path.dirname(fileURLToPath(import.meta.resolve('prebuildify/package.json'))), 'bin.js');
  try {
    execFileSync(process.execPath, [
      prebuildify,
      '--napi', '--tag-libc', '--arch', arch,
      // prebuildify strips with the host's strip, which cannot read a cross build: that is stripped below.
      ...(cross ? [] : ['--strip']),
      '--name', manifest.name,
      '--cwd', stage,
      '--out', root,
      '--node-gyp', wrapper,
    ], { cwd: root, stdio: 'inherit' });
  } catch (error) {
    fail(error.message);
  }
  const file = path.join(root, 'prebuilds', tuple, `${manifest.name}.glibc.node`);
  if (cross) stripped(file);
  // llama.cpp's RPC worker (`amulet rpc-server`), from the same portable build, beside the addon it speaks to.
  const worker = path.join(root, 'prebuilds', tuple, `ggml-rpc-server${exe}`);
  fs.copyFileSync(path.join(root, buildDir, 'Release', path.basename(worker)), worker);
  stripped(worker);
  report([file, worker]);
}

/** A GPU variant: the package @amulet-llm/<platform>-<arch>-<variant>, staged in build-variants/ and packed. */
function variantPackage() {
  const name = `${tuple}-${variant}`;
  if (!(manifest.prebuildVariants ?? []).includes(name)) {
    fail(`${name} is not listed in package.json "prebuildVariants" (${(manifest.prebuildVariants ?? []).join(', ')})`);
  }
  const buildDir = `build-${variant}`;
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--native-only', '--portable',
      `--${variant}`, ...(cross ? ['--arch', arch] : []), '--out', buildDir], { cwd: root, stdio: 'inherit' });
  } catch (error) {
    fail(error.message);
  }
  const stage = path.join(root, 'build-variants', name);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  const files = ['amulet.node', `ggml-rpc-server${exe}`];
  for (const file of files) {
    fs.copyFileSync(path.join(root, buildDir, 'Release', file), path.join(stage, file));
    stripped(path.join(stage, file));
  }
  fs.copyFileSync(path.join(root, 'LICENSE'), path.join(stage, 'LICENSE'));
  const packageName = `@${manifest.name}/${name}`;
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({
    name: packageName,
    version: manifest.version,
    description: `The ${variant} build of ${manifest.name}'s native addon for ${tuple}: install it beside ` +
      `${manifest.name}, which loads it when it finds a GPU.`,
    license: manifest.license,
    os: [os.platform()],
    cpu: [arch],
    libc: ['glibc'],
    files,
  }, null, 2)}\n`);
  fs.writeFileSync(path.join(stage, 'README.md'), `# ${packageName}\n\nThe ${variant} build of the native addon of ` +
    `[${manifest.name}](https://www.npmjs.com/package/${manifest.name}) for ${tuple}, version ${manifest.version}. ` +
    `\`npm install ${manifest.name} ${packageName}\`; ${manifest.name} loads it when it finds a GPU it can drive ` +
    '(`AMULET_VARIANT` forces a variant), and `systemInfo().addon` says which loaded.\n');
  report(files.map((file) => path.join(stage, file)));
  const tarball = execFileSync('npm', ['pack', '--pack-destination', root, '--silent'], { cwd: stage, encoding: 'utf8' })
    .trim().split('\n').pop();
  report([path.join(root, tarball)]);
}

if (variant === 'cpu') cpuPrebuild();
else variantPackage();
