#!/usr/bin/env node
// `npm run bench`: tokens/s, time to first token, sampler time and peak memory
// of realigned decoding, measured in ONE run on one machine, model, prompt set
// and thread count, against
//   - plain decoding of the preference prompt through the same addon,
//   - the engine's ceiling: the same two sequences in one batch per token, not realigned,
//   - a peer binding of the same llama.cpp (node-llama-cpp, pinned in bench/package.json),
//   - the paper-style reference (bench/paper_reference.py: transformers, no KV cache, literal loop).
// It also times the sampler math alone, per vocabulary-sized row, with the C++
// micro-benchmark bench/native/bench_math.cpp, built in the benchmarked
// addon's build folder (so for the same instruction set).
// Each method runs in a child process of its own (bench/worker.mjs), one
// after another, so that each peak RSS is the method's own and no two
// measurements share the CPU. Prints a table; writes JSON to --out.
//
//   node bench/run.mjs [--model smollm2-135m-instruct | gemma3-270m | path.gguf] [--threads 2]
//                      [--questions 4] [--repeats 3] [--max-tokens 128] [--out bench/results/latest.json]
//                      [--methods plain,ceiling,...] [--reference-questions 1] [--no-reference] [--no-peer]
//                      [--no-select] [--candidates 40] [--chat-template gemma] [--question-file q.json ...]
//                      [--addon native | portable] [--rpc 1,2] [--rpc-threads 1]
//
// --rpc N,M,... adds rows with every layer on N (then M, ...) local llama.cpp
// RPC workers (ggml-rpc-server, --rpc-threads threads each), reached through
// a proxy that counts bytes: plain, and amulet realigned on the host and in
// the graph, with the bytes each decode step sends and receives.
// Needs the built addon and dist/ (npm run build). The peer and the Python
// reference install themselves on first use: `npm install` in bench/, and a
// virtual environment in bench/.venv from bench/requirements.txt.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const require = createRequire(import.meta.url);

const paperPreference = (adjective) => `Your answer should be ${adjective} as much as possible.`;
const SYSTEM_PROMPT = 'You are a helpful assistant.';
// 'verbose' keeps answers going to --max-tokens, so every method decodes about
// as many tokens as the others (tokens/s falls as the context grows); a
// 'concise' Amulet answer can end after a dozen tokens.
const PREFERENCE = paperPreference('verbose');
const SECOND_PREFERENCE = paperPreference('uplifting');
// The project's own question set; `--question-file` (repeatable) takes others,
// e.g. the paper's, whose first questions are then taken in turn.
const DEFAULT_QUESTION_FILE = path.join(root, 'test', 'fixtures', 'questions.json');

/** The methods, in table order. `kind` picks the worker's code path. */
const METHODS = [
  { id: 'plain', label: 'plain (pref prompt, 1 seq)', kind: 'amulet', method: 'pref', preferences: [PREFERENCE] },
  { id: 'ceiling', label: '2 seqs, no realignment', kind: 'ceiling', method: 'amulet', preferences: [PREFERENCE] },
  { id: 'amulet', label: 'amulet (closed form)', kind: 'amulet', method: 'amulet', preferences: [PREFERENCE] },
  { id: 'amulet-iterative', label: 'amulet-iterative (K=60)', kind: 'amulet', method: 'amulet-iterative',
    preferences: [PREFERENCE] },
  { id: 'la', label: 'la (r=2)', kind: 'amulet', method: 'la', preferences: [PREFERENCE] },
  { id: 'amulet-2pref', label: 'amulet, 2 preferences (3 seqs)', kind: 'amulet', method: 'amulet',
    preferences: [PREFERENCE, SECOND_PREFERENCE] },
  { id: 'node-llama-cpp', label: 'node-llama-cpp 3.21.1, chat session', kind: 'node-llama-cpp',
    preferences: [PREFERENCE] },
  { id: 'node-llama-cpp-raw', label: 'node-llama-cpp 3.21.1, sequence.evaluate', kind: 'node-llama-cpp-raw',
    preferences: [PREFERENCE] },
];
/** The addon builds a run can measure: this CPU's (-march=native) and the portable one the prebuild ships (AVX2). */
const ADDONS = {
  native: path.join(root, 'build', 'Release', 'amulet.node'),
  portable: path.join(root, 'build-portable', 'Release', 'amulet.node'),
};
const REFERENCE = { id: 'paper-reference', label: 'paper-style reference (HF, no KV cache)' };
/** The rows of each --rpc worker count: every layer on the workers. */
const RPC_METHODS = [
  { id: 'plain', label: 'plain', kind: 'amulet', method: 'pref', preferences: [PREFERENCE] },
  { id: 'amulet-host', label: 'amulet, realigned on the host', kind: 'amulet', method: 'amulet',
    preferences: [PREFERENCE], realignOn: 'cpu' },
  { id: 'amulet-graph', label: 'amulet, realigned in the graph', kind: 'amulet', method: 'amulet',
    preferences: [PREFERENCE], realignOn: 'backend' },
];

function parseArgs(argv) {
  const options = {
    model: 'smollm2-135m-instruct',
    threads: 2,
    questions: 4,
    repeats: 3,
    maxTokens: 128,
    contextSize: 4096,
    out: path.join(benchDir, 'results', 'latest.json'),
    methods: METHODS.map((method) => method.id),
    reference: true,
    referenceQuestions: 1,
    select: true,
    candidates: 40,
    questionFiles: [],
    addon: 'native',
    peer: true,
    chatTemplate: undefined,
    rpc: [],
    rpcThreads: 1,
  };
  const positiveInteger = (name, value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1) throw new Error(`${name} needs an integer >= 1 (got ${value})`);
    return number;
  };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--model': options.model = value(); break;
      case '--threads': options.threads = positiveInteger(arg, value()); break;
      case '--questions': options.questions = positiveInteger(arg, value()); break;
      case '--repeats': options.repeats = positiveInteger(arg, value()); break;
      case '--max-tokens': options.maxTokens = positiveInteger(arg, value()); break;
      case '--context-size': options.contextSize = positiveInteger(arg, value()); break;
      case '--out': options.out = path.resolve(value()); break;
      case '--methods': options.methods = value().split(',').map((id) => id.trim()).filter(Boolean); break;
      case '--reference-questions': options.referenceQuestions = positiveInteger(arg, value()); break;
      case '--no-reference': options.reference = false; break;
      case '--no-peer': options.peer = false; break;
      case '--no-select': options.select = false; break;
      case '--candidates': options.candidates = positiveInteger(arg, value()); break;
      case '--chat-template': options.chatTemplate = value(); break;
      case '--question-file': options.questionFiles.push(path.resolve(value())); break;
      case '--addon': options.addon = value(); break;
      case '--rpc': options.rpc = value().split(',').map((count) => positiveInteger(arg, count)); break;
      case '--rpc-threads': options.rpcThreads = positiveInteger(arg, value()); break;
      case '--help':
      case '-h':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n')
          .filter((line) => line.startsWith('//')).map((line) => line.slice(3)).join('\n') + '\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown option ${arg} (--help lists them)`);
    }
  }
  if (!ADDONS[options.addon]) throw new Error(`--addon must be one of ${Object.keys(ADDONS).join(', ')}`);
  const known = new Set([...METHODS.map((method) => method.id), REFERENCE.id]);
  for (const id of options.methods) if (!known.has(id)) throw new Error(`unknown method ${id}`);
  if (!options.methods.includes(REFERENCE.id) && options.reference) options.methods.push(REFERENCE.id);
  if (!options.reference) options.methods = options.methods.filter((id) => id !== REFERENCE.id);
  if (options.questionFiles.length === 0) options.questionFiles.push(DEFAULT_QUESTION_FILE);
  if (!options.peer) options.methods = options.methods.filter((id) => !id.startsWith('node-llama-cpp'));
  return options;
}

/** llama.cpp's system line of an addon build: the CPU features it was compiled for. */
function addonSystemInfo(file) {
  return require(file).systemInfo().system.trim();
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/** The build folder of the addon --addon picks (the workers load its .node through AMULET_ADDON). */
function addonBuildDir(kind) {
  const file = ADDONS[kind];
  if (!fs.existsSync(file)) throw new Error(`${path.relative(root, file)} is missing: npm run build -- --portable --out build-portable`);
  return path.dirname(path.dirname(file));
}

/**
 * The sampler math alone: bench/native/bench_math.cpp, built (target
 * amulet_bench_math) in the benchmarked addon's build folder, where it links
 * the same sampler math library as the addon. Microseconds per row, by step
 * and vocabulary size; null where the folder has no CMake build.
 */
function runMathBenchmark(buildDir) {
  if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) {
    log(`no CMake build in ${path.relative(root, buildDir)}/: the sampler math micro-benchmark is left out`);
    return null;
  }
  log(`sampler math micro-benchmark (${path.relative(root, buildDir)}/amulet_bench_math)`);
  // Quiet unless it fails: a failure's message carries cmake's output.
  execFileSync('cmake', ['--build', buildDir, '--target', 'amulet_bench_math'], { stdio: 'pipe' });
  const report = JSON.parse(execFileSync(path.join(buildDir, 'amulet_bench_math'), ['--json'], { encoding: 'utf8' }));
  return { build: path.relative(root, buildDir), ...report };
}

/** A fixture name is fetched (and cached) like the tests do; anything else is a GGUF path. */
async function resolveModel(name, chatTemplate) {
  const fixtures = require(path.join(root, 'dist', 'test', 'support', 'fixtures.js'));
  if (fixtures.isFixtureModelName(name)) {
    const modelPath = await fixtures.ensureFixtureModel(name);
    // The Gemma-3-270M fixture is the pretrained model: no chat template in the GGUF (test/support/models.ts).
    return { name, path: modelPath, chatTemplate: chatTemplate ?? (name === 'gemma3-270m' ? 'gemma' : '') };
  }
  if (!fs.existsSync(name)) throw new Error(`no such model file: ${name}`);
  return { name: path.basename(name), path: path.resolve(name), chatTemplate: chatTemplate ?? '' };
}

/** Candidate questions: the question files' first questions, taken in turn. */
function loadCandidates(files, count) {
  const sets = files.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')).map((record) => record.question));
  const questions = [];
  for (let i = 0; questions.length < count && i < count * sets.length; ++i) {
    const question = sets[i % sets.length][Math.floor(i / sets.length)];
    if (question !== undefined) questions.push(question);
  }
  if (questions.length === 0) throw new Error(`no questions in ${files.join(', ')}`);
  return questions;
}

/**
 * The questions every method decodes: the first candidates whose plain and
 * amulet answers both run to --max-tokens (a 135M model realigned with the
 * paper's scale often ends after a dozen tokens, and tokens/s depends on the
 * context length), so that every row decodes about as many tokens. With too
 * few such candidates, the longest others fill up.
 */
async function selectQuestions(model, options) {
  const candidates = loadCandidates(options.questionFiles, options.select ? options.candidates : options.questions);
  if (!options.select) return { questions: candidates, lengths: null };
  const job = { ...workerJob({ id: 'select', kind: 'select', preferences: [PREFERENCE] }, model, options, []),
    prompts: candidates, wanted: options.questions };
  const { lengths } = await runChild(process.execPath, [path.join(benchDir, 'worker.mjs'), JSON.stringify(job)], 'select');
  const shortest = (entry) => Math.min(entry.plain, entry.amulet);
  const full = lengths.filter((entry) => shortest(entry) >= options.maxTokens);
  const rest = lengths.filter((entry) => shortest(entry) < options.maxTokens).sort((a, b) => shortest(b) - shortest(a));
  const chosen = [...full, ...rest].slice(0, options.questions);
  if (full.length < options.questions) {
    log(`warning: only ${full.length} of ${lengths.length} candidate questions have plain and amulet answers of ` +
      `${options.maxTokens} tokens; the longest others fill up`);
  }
  return { questions: chosen.map((entry) => entry.question), lengths: chosen };
}

function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function loadAverage() {
  return os.loadavg().map((value) => Math.round(value * 100) / 100);
}

function cpuModel() {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function runChild(command, args, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${label} exited with ${code}:\n${stderr.split('\n').slice(-20).join('\n')}`));
        return;
      }
      const line = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`${label} printed no JSON result:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

/**
 * The prompts a worker runs: one warm-up, then `repeats` passes over the
 * questions. Question i of pass r is prompt 1 + r * questions + i.
 */
function workerJob(method, model, options, questions) {
  const prompts = [questions[0]];
  for (let r = 0; r < options.repeats; ++r) prompts.push(...questions);
  return {
    label: method.id,
    kind: method.kind,
    method: method.method,
    addon: ADDONS[options.addon],
    peerBuild: PEER_BUILD[options.addon],
    peerCmakeOptions: PEER_SOURCE_CMAKE_OPTIONS,
    preferences: method.preferences,
    model: model.path,
    chatTemplate: model.chatTemplate,
    systemPrompt: SYSTEM_PROMPT,
    threads: options.threads,
    contextSize: options.contextSize,
    maxTokens: options.maxTokens,
    prompts,
    warmup: 1,
    ...(method.realignOn && { realignOn: method.realignOn }),
    ...(method.rpcServers && { rpcServers: method.rpcServers }),
  };
}

/** Starts `count` local RPC workers (llama.cpp's ggml-rpc-server, built with the addon) on free loopback ports. */
async function startRpcWorkers(count, threads) {
  const { rpcServerPath } = require(path.join(root, 'dist', 'lib', 'index.js'));
  const workers = [];
  const stop = async () => {
    for (const worker of workers) worker.child.kill();
    await Promise.all(workers.map((worker) => worker.exited));
  };
  try {
    for (let i = 0; i < count; ++i) {
      const probe = net.createServer().listen(0, '127.0.0.1');
      await once(probe, 'listening');
      const { port } = probe.address();
      await new Promise((resolve) => probe.close(resolve));
      const child = spawn(rpcServerPath(), ['--host', '127.0.0.1', '--port', String(port), '--threads', String(threads)],
        { stdio: 'ignore' });
      workers.push({ endpoint: `127.0.0.1:${port}`, child, exited: once(child, 'exit') });
      // Ready once it accepts a connection.
      for (let attempt = 0; ; ++attempt) {
        const socket = net.connect({ host: '127.0.0.1', port });
        const connected = await new Promise((resolve) => {
          socket.once('connect', () => resolve(true));
          socket.once('error', () => resolve(false));
        });
        socket.destroy();
        if (connected) break;
        if (attempt >= 200) throw new Error(`the RPC worker on port ${port} did not start`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoints: workers.map((worker) => worker.endpoint), stop };
}

/**
 * tokens/s of a method: for each pass over the questions, all its decode
 * steps over all its decode time; then the median over the passes. TTFT:
 * the median over every measured prompt. Sampler time: per pass, as tokens/s.
 */
function summarise(method, report, options) {
  const perPass = [];
  const count = report.samples.length / options.repeats;
  for (let r = 0; r < options.repeats; ++r) perPass.push(report.samples.slice(r * count, (r + 1) * count));
  const tokensPerSecond = median(perPass.map((pass) => {
    const steps = pass.reduce((sum, s) => sum + Math.max(0, s.tokens - 1), 0);
    const ms = pass.reduce((sum, s) => sum + s.decodeMs, 0);
    return ms > 0 ? (steps * 1000) / ms : NaN;
  }));
  const samplerUsPerToken = report.samples.every((s) => s.samplerUsPerToken === null) ? null : median(perPass.map((pass) => {
    const tokens = pass.reduce((sum, s) => sum + s.tokens, 0);
    return pass.reduce((sum, s) => sum + s.samplerUsPerToken * s.tokens, 0) / tokens;
  }));
  return {
    method: method.id,
    label: method.label,
    tokensPerSecond,
    ttftMs: median(report.samples.map((s) => s.ttftMs)),
    samplerUsPerToken,
    peakRssMb: report.peakRssMb,
    sequences: report.samples[0]?.sequences ?? null,
    generations: report.samples.length,
    meanTokens: report.samples.reduce((sum, s) => sum + s.tokens, 0) / Math.max(1, report.samples.length),
    ...(report.peer && { peer: report.peer }),
    ...(method.rpcWorkers && {
      rpc: {
        workers: method.rpcWorkers,
        workerThreads: options.rpcThreads,
        realignedOn: report.samples[0]?.realignedOn ?? null,
        sentBytesPerStep: median(report.samples.map((s) => s.sentPerStep)),
        receivedBytesPerStep: median(report.samples.map((s) => s.receivedPerStep)),
        loadBytesSent: report.loadTraffic?.sent ?? null,
      },
    }),
  };
}

/**
 * The peer build each addon is compared with, like for like: the portable
 * addon (what the prebuild ships) with node-llama-cpp's prebuilt CPU binary,
 * the native one (-march=native) with node-llama-cpp built from its bundled
 * llama.cpp sources for this CPU.
 */
const PEER_BUILD = { native: 'source', portable: 'prebuilt' };

/**
 * The CMake options of the peer's source build: ggml's own thread pool, as
 * every amulet-llm build uses. node-llama-cpp's default (OpenMP) would make
 * the threading differ, and on a CPU with AMX its OpenMP build dies with
 * SIGILL in ggml's AMX matrix multiply.
 */
const PEER_SOURCE_CMAKE_OPTIONS = { GGML_OPENMP: 'OFF' };

/** node-llama-cpp's prebuilt CPU binary package for this platform (its GPU variants are not needed here). */
function peerBinaryPackage() {
  const arch = process.arch === 'arm' ? 'armv7l' : process.arch;
  if (process.platform === 'darwin') return `@node-llama-cpp/mac-${arch === 'arm64' ? 'arm64-metal' : arch}@3.21.1`;
  return `@node-llama-cpp/${process.platform === 'win32' ? 'win' : process.platform}-${arch}@3.21.1`;
}

function ensurePeer(build) {
  const marker = path.join(benchDir, 'node_modules', 'node-llama-cpp', 'package.json');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (!fs.existsSync(marker)) {
    log('installing the peer, node-llama-cpp@3.21.1, into bench/node_modules (once)');
    // Without its optional dependencies (CUDA and Vulkan builds: ~600 MB), then the
    // one prebuilt CPU binary. Its install script is skipped: the source
    // build below is made on demand, never by npm.
    const quiet = ['--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional'];
    execFileSync(npm, ['install', ...quiet], { cwd: benchDir, stdio: 'inherit' });
    execFileSync(npm, ['install', '--no-save', ...quiet, peerBinaryPackage()], { cwd: benchDir, stdio: 'inherit' });
  }
  if (build !== 'source') return;
  // node-llama-cpp builds the llama.cpp release bundled in its package
  // (offline) into its own llama/localBuilds/, once; later runs reuse it.
  log('building the peer from its bundled llama.cpp sources for this CPU (once; minutes)');
  const entry = pathToFileURL(path.join(benchDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href;
  execFileSync(process.execPath, ['--input-type=module', '-e',
    `const { getLlama } = await import(${JSON.stringify(entry)});\n` +
    'const llama = await getLlama({ gpu: false, usePrebuiltBinaries: false, build: \'auto\', logLevel: \'error\', ' +
    `cmakeOptions: ${JSON.stringify(PEER_SOURCE_CMAKE_OPTIONS)} });\n` +
    'console.error(`peer build: ${llama.buildType}`); await llama.dispose();'], { stdio: 'inherit' });
}

function ensureReferenceVenv() {
  const venv = path.join(benchDir, '.venv');
  const python = path.join(venv, 'bin', 'python');
  const ready = () => {
    try {
      execFileSync(python, ['-c', 'import torch, transformers, gguf, accelerate'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (fs.existsSync(python) && ready()) return python;
  log('installing the reference\'s Python packages into bench/.venv (once; bench/requirements.txt)');
  if (!fs.existsSync(python)) execFileSync(process.env.AMULET_PYTHON ?? 'python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '-r', path.join(benchDir, 'requirements.txt')],
    { stdio: 'inherit' });
  if (!ready()) throw new Error('bench/.venv still cannot import torch, transformers, gguf and accelerate');
  return python;
}

async function runReference(model, options, questions) {
  const python = ensureReferenceVenv();
  // Exactly --max-tokens tokens (EOS ignored): its numerics (float32 weights) differ from the quantised
  // model's, so its answer may end elsewhere, and without a KV cache its time per token grows with the length.
  const args = [path.join(benchDir, 'paper_reference.py'), '--gguf', model.path, '--threads', String(options.threads),
    '--max-new-tokens', String(options.maxTokens), '--ignore-eos', '--system-prompt', SYSTEM_PROMPT,
    '--preference', PREFERENCE];
  if (model.chatTemplate) args.push('--chat-template', model.chatTemplate);
  for (const question of questions.slice(0, options.referenceQuestions)) args.push('--question', question);
  const report = await runChild(python, args, REFERENCE.id);
  return {
    method: REFERENCE.id,
    label: REFERENCE.label,
    tokensPerSecond: report.tokensPerSecond,
    ttftMs: report.ttftMs,
    samplerUsPerToken: report.loopMsPerToken * 1000,  // its "sampler": the literal loop, per token
    peakRssMb: report.peakRssMb,
    sequences: 2,
    generations: report.runs.length,
    meanTokens: report.runs.reduce((sum, run) => sum + run.generatedTokenCount, 0) / Math.max(1, report.runs.length),
    reference: {
      implementation: report.implementation,
      forwardMsPerToken: report.forwardMsPerToken,
      loopMsPerToken: report.loopMsPerToken,
    },
  };
}

function ratio(numerator, denominator) {
  return numerator != null && denominator != null && denominator > 0 ? numerator / denominator : null;
}

function format(value, digits = 1) {
  return value == null ? '—' : value.toFixed(digits);
}

/** Rows of cells as a Markdown table, the first column left-aligned and the others right-aligned. */
function markdownTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row) => `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w, c) => (c === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line)].join('\n');
}

function printMathTable(math) {
  const sizes = [...new Set(math.results.map((r) => r.nVocab))];
  const rows = [['sampler math, µs per row', ...sizes.map(String)]];
  for (const name of new Set(math.results.map((r) => r.name))) {
    rows.push([name, ...sizes.map((n) => format(math.results.find((r) => r.name === name && r.nVocab === n)?.usPerRow, 1))]);
  }
  process.stdout.write(`${math.build}/amulet_bench_math, median of ${math.samples} samples:\n\n${markdownTable(rows)}\n\n`);
}

function printTable(output) {
  const rpc = output.results.some((r) => r.rpc);
  const rows = [['method', 'seqs', 'tokens/answer', 'tok/s', 'TTFT ms', 'sampler µs/tok', 'realign µs/tok', 'share of step',
    'peak RSS MB', ...(rpc ? ['sent B/step', 'received B/step'] : [])]];
  for (const r of output.results) {
    rows.push([r.label, String(r.sequences ?? '—'), format(r.meanTokens, 0), format(r.tokensPerSecond, r.tokensPerSecond < 10 ? 2 : 1),
      format(r.ttftMs, 0), format(r.samplerUsPerToken, 0), format(r.realignUsPerToken, 0),
      r.realignShareOfStep == null ? '—' : `${(r.realignShareOfStep * 100).toFixed(2)}%`, format(r.peakRssMb, 0),
      ...(rpc ? [format(r.rpc?.sentBytesPerStep, 0), format(r.rpc?.receivedBytesPerStep, 0)] : [])]);
  }
  process.stdout.write(`\n${output.model.name} · ${output.machine.cpu} · ${output.threads} threads · ` +
    `${output.machine.addon} addon · ` +
    `load average ${output.machine.loadAverageBefore.join(' ')} → ${output.machine.loadAverageAfter.join(' ')}\n\n`);
  process.stdout.write(`${markdownTable(rows)}\n\n`);
  if (output.samplerMath) printMathTable(output.samplerMath);
  const targets = { amuletOverCeiling: 0.97, amuletOverPaperReference: 20, plainOverNodeLlamaCpp: 0.95 };
  for (const [key, value] of Object.entries(output.ratios)) {
    const target = targets[key];
    const verdict = target === undefined || value == null ? '' : value >= target ? `  (target ≥ ${target}: met)` : `  (target ≥ ${target}: MISSED)`;
    process.stdout.write(`${key.padEnd(26)} ${value == null ? '—' : value.toFixed(3)}${verdict}\n`);
  }
  const share = output.results.find((r) => r.method === 'amulet')?.realignShareOfStep;
  if (share != null) {
    process.stdout.write(`${'realign share (amulet)'.padEnd(26)} ${(share * 100).toFixed(2)}%` +
      `  (target ≤ 0.5%: ${share <= 0.005 ? 'met' : 'MISSED'})\n`);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const buildDir = addonBuildDir(options.addon);
  const model = await resolveModel(options.model, options.chatTemplate);
  if (options.methods.some((id) => id.startsWith('node-llama-cpp'))) ensurePeer(PEER_BUILD[options.addon]);
  const loadAverageBefore = loadAverage();
  if (loadAverageBefore[0] >= 1) {
    log(`warning: the 1-minute load average is ${loadAverageBefore[0]}: other processes share the CPU, so these ` +
      'numbers are not clean measurements');
  }

  log(options.select ? `choosing ${options.questions} questions whose answers run to ${options.maxTokens} tokens` : 'questions');
  const { questions, lengths } = await selectQuestions(model, options);
  const samplerMath = runMathBenchmark(buildDir);
  const results = [];
  for (const method of METHODS.filter((m) => options.methods.includes(m.id))) {
    log(`${method.label}: 1 warm-up + ${options.repeats} × ${questions.length} prompts, ${options.maxTokens} tokens at most`);
    const started = performance.now();
    const report = await runChild(process.execPath,
      [path.join(benchDir, 'worker.mjs'), JSON.stringify(workerJob(method, model, options, questions))], method.id);
    const summary = summarise(method, report, options);
    results.push(summary);
    log(`  ${format(summary.tokensPerSecond)} tok/s, TTFT ${format(summary.ttftMs, 0)} ms ` +
      `(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  for (const count of options.rpc) {
    const workers = await startRpcWorkers(count, options.rpcThreads);
    try {
      for (const rpcMethod of RPC_METHODS) {
        const suffix = `${count} RPC worker${count > 1 ? 's' : ''}`;
        const method = { ...rpcMethod, id: `${rpcMethod.id}-rpc${count}`, label: `${rpcMethod.label}, ${suffix}`,
          rpcServers: workers.endpoints, rpcWorkers: count };
        log(`${method.label}: 1 warm-up + ${options.repeats} × ${questions.length} prompts`);
        const report = await runChild(process.execPath,
          [path.join(benchDir, 'worker.mjs'), JSON.stringify(workerJob(method, model, options, questions))], method.id);
        const summary = summarise(method, report, options);
        results.push(summary);
        log(`  ${format(summary.tokensPerSecond)} tok/s, ${format(summary.rpc.sentBytesPerStep, 0)} B sent and ` +
          `${format(summary.rpc.receivedBytesPerStep, 0)} B received per step`);
      }
    } finally {
      await workers.stop();
    }
  }
  if (options.methods.includes(REFERENCE.id)) {
    log(`${REFERENCE.label}: ${options.referenceQuestions} prompt(s), ${options.maxTokens} tokens at most (slow)`);
    results.push(await runReference(model, options, questions));
  }

  const byId = Object.fromEntries(results.map((r) => [r.method, r]));
  // The realign sampler's own time: its chain's time per token minus the
  // ceiling's, whose chain is the same minus the realignment (llama.cpp
  // filling the candidates from the row, then the greedy pick).
  const ceilingSampler = byId.ceiling?.samplerUsPerToken;
  for (const r of results) {
    const realigns = ['amulet', 'amulet-iterative', 'la', 'amulet-2pref'].includes(r.method);
    r.realignUsPerToken = realigns && ceilingSampler != null ? Math.max(0, r.samplerUsPerToken - ceilingSampler) : null;
    r.realignShareOfStep = r.realignUsPerToken != null && r.tokensPerSecond > 0
      ? (r.realignUsPerToken * r.tokensPerSecond) / 1e6 : null;
  }
  const tps = (id) => byId[id]?.tokensPerSecond;
  const output = {
    model: { name: model.name, path: model.path, chatTemplate: model.chatTemplate || null },
    threads: options.threads,
    results,
    ratios: {
      amuletOverCeiling: ratio(tps('amulet'), tps('ceiling')),
      amuletOverPlain: ratio(tps('amulet'), tps('plain')),
      iterativeOverClosedForm: ratio(tps('amulet-iterative'), tps('amulet')),
      amuletOverPaperReference: ratio(tps('amulet'), tps(REFERENCE.id)),
      // Against the faster of the peer's two ways of generating.
      plainOverNodeLlamaCpp: ratio(tps('plain'), Math.max(tps('node-llama-cpp') ?? 0, tps('node-llama-cpp-raw') ?? 0) || null),
    },
    samplerMath,
    settings: {
      maxTokens: options.maxTokens,
      questions,
      questionSelection: lengths && {
        rule: `the first questions (taken in turn from the question files) whose plain and amulet answers ` +
          `both reach ${options.maxTokens} tokens`,
        answerTokens: lengths.map(({ plain, amulet }) => ({ plain, amulet })),
      },
      repeats: options.repeats,
      referenceQuestions: options.referenceQuestions,
      contextSize: options.contextSize,
      rpc: options.rpc.length > 0 ? { workerCounts: options.rpc, workerThreads: options.rpcThreads,
        bytesPerStep: 'bytes through the counting proxies per decode step after the first token, median over prompts',
      } : null,
      systemPrompt: SYSTEM_PROMPT,
      preferences: [PREFERENCE, SECOND_PREFERENCE],
      decoding: 'greedy',
      tokensPerSecond: 'decode steps per second after the first token, (tokens - 1) / (first to last token); ' +
        'per pass over the questions, median over the passes',
    },
    machine: {
      cpu: cpuModel(),
      cores: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      addon: options.addon,
      addonSystem: addonSystemInfo(ADDONS[options.addon]),
      loadAverageBefore,
      loadAverageAfter: loadAverage(),
    },
    date: new Date().toISOString(),
  };
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${JSON.stringify(output, null, 2)}\n`);
  printTable(output);
  log(`wrote ${path.relative(process.cwd(), options.out) || options.out}`);
}

main().catch((error) => {
  process.stderr.write(`[bench] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
