#!/usr/bin/env node
// The package's install step. A checkout of the repository builds everything
// (native addon and TypeScript). An installed package keeps a matching
// prebuild when there is one and otherwise builds the addon from the sources
// it ships; AMULET_BUILD_FROM_SOURCE=1 forces the build.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isCheckout = fs.existsSync(path.join(root, 'tsconfig.json'));

function hasUsableBinary() {
  try {
    createRequire(import.meta.url)('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (!isCheckout && process.env.AMULET_BUILD_FROM_SOURCE !== '1' && hasUsableBinary()) process.exit(0);
const buildArgs = isCheckout ? [] : ['--native-only'];
execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), ...buildArgs], { stdio: 'inherit' });
