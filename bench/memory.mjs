#!/usr/bin/env node
// Memory across session lifetimes: N cycles of createSession -> prompt (cut
// short by an AbortSignal after a few tokens) -> dispose, on one model. Prints
// the process's RSS with the model loaded, in one live session's steady state
// (idle after a few prompts), after 10/25/50/100/... cycles (no session left),
// and the peak while the cycles ran; then one JSON line with the same figures.
// A disposed session should give its context (the KV cache of every sequence,
// about 180 MB for SmolLM2-135M at 4096 tokens x 2 sequences) back at once:
// after any number of cycles the RSS should stay near one live session's.
//
//   node bench/memory.mjs [--model smollm2-135m-instruct | path.gguf] [--cycles 100] [--threads 1]
//                         [--context-size 4096] [--mode abort|complete] [--gc]
//                         [--addon build-portable/Release/amulet.node] [--out results.json]
//
// --mode complete lets each prompt run to maxTokens (64) instead of aborting it.
// --gc collects garbage before each reading; by default nothing forces a
// collection, as in an application, so memory that waits for the garbage
// collector shows. --addon loads another build of the addon (e.g. the
// portable one, without OpenMP) instead of build/Release.
// Needs the built addon and dist/ (npm run build).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const options = { model: 'smollm2-135m-instruct', cycles: 100, threads: 1, contextSize: 4096, mode: 'abort',
    gc: false, addon: '', out: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--model': options.model = value(); break;
      case '--cycles': options.cycles = Number(value()); break;
      case '--threads': options.threads = Number(value()); break;
      case '--context-size': options.contextSize = Number(value()); break;
      case '--mode': options.mode = value(); break;
      case '--gc': options.gc = true; break;
      case '--addon': options.addon = path.resolve(value()); break;
      case '--out': options.out = value(); break;
      default: throw new Error(`unknown option ${arg}`);
    }
  }
  if (!Number.isInteger(options.cycles) || options.cycles < 1) throw new Error('--cycles must be a positive integer');
  if (!['abort', 'complete'].includes(options.mode)) throw new Error('--mode is abort or complete');
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (options.addon) process.env.AMULET_ADDON = options.addon;
const { loadModel } = require(path.join(root, 'dist', 'lib', 'index.js'));
const { ensureFixtureModel } = require(path.join(root, 'dist', 'test', 'support', 'fixtures.js'));

let collect = () => {};
if (options.gc) {
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc');
}

const mb = (bytes) => bytes / 2 ** 20;
const fmt = (bytes) => `${mb(bytes).toFixed(1)} MB`;

/** RSS, and its anonymous and file-backed parts (the model's mapped weights are file-backed). */
async function reading() {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 50));
  collect();
  const rss = process.memoryUsage.rss();
  let anonymous = NaN;
  try {
    const rollup = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
    anonymous = Number(/^Anonymous:\s+(\d+) kB/m.exec(rollup)[1]) * 1024;
  } catch {
    // not Linux
  }
  return { rss, anonymous };
}

const modelPath = fs.existsSync(options.model) ? path.resolve(options.model) : await ensureFixtureModel(options.model);
const model = await loadModel({ path: modelPath });
const createSession = () => model.createSession({ preferences: ['Be concise.'], threads: options.threads,
  contextSize: options.contextSize });
let peak = 0;

async function prompt(session) {
  const controller = new AbortController();
  const stream = session.prompt('Tell me about the sea.', { maxTokens: 64, signal: controller.signal });
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      void chunk;
      if (++chunks >= 3 && options.mode === 'abort') controller.abort();
    }
    await stream;
  } catch (error) {
    if (error?.code !== 'ERR_ABORTED') throw error;
  }
  peak = Math.max(peak, process.memoryUsage.rss());
}

const loaded = await reading();
console.log(`${'model loaded, no session:'.padEnd(33)} RSS ${fmt(loaded.rss)} (anonymous ${fmt(loaded.anonymous)})`);
const live = createSession();
for (let i = 0; i < 3; i++) await prompt(live);
const steady = await reading();
console.log(`${'one live session, steady state:'.padEnd(33)} RSS ${fmt(steady.rss)} (anonymous ${fmt(steady.anonymous)})`);
await live.dispose();

const checkpoints = new Set([10, 25, 50, 100, 250, 500, 1000, options.cycles]);
const after = [];
peak = 0;
for (let cycle = 1; cycle <= options.cycles; cycle++) {
  const session = createSession();
  await prompt(session);
  await session.dispose();
  if (checkpoints.has(cycle)) {
    const now = await reading();
    after.push({ cycles: cycle, rssMb: mb(now.rss), anonymousMb: mb(now.anonymous), ofSteady: now.rss / steady.rss });
    console.log(`${`after ${cycle} cycles:`.padEnd(33)} RSS ${fmt(now.rss)} ` +
      `(anonymous ${fmt(now.anonymous)}), ${(100 * now.rss / steady.rss).toFixed(0)}% of the steady state`);
  }
}
console.log(`${'peak during the cycles:'.padEnd(33)} RSS ${fmt(peak)}, ${(100 * peak / steady.rss).toFixed(0)}% of the steady state`);
await model.dispose();

const result = {
  model: path.basename(modelPath),
  addon: options.addon ? path.relative(root, options.addon) : 'build/Release/amulet.node',
  cycles: options.cycles, threads: options.threads, contextSize: options.contextSize, mode: options.mode,
  forcedGc: options.gc,
  loadedRssMb: mb(loaded.rss), steadyRssMb: mb(steady.rss), peakRssMb: mb(peak), after,
};
console.log(JSON.stringify(result));
if (options.out) {
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  fs.writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
}
