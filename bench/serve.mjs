#!/usr/bin/env node
// `npm run bench:serve`: what `amulet serve --parallel N` gives N concurrent
// clients, plain and realigned, against llama-server -np N on the same GGUF,
// threads and machine, and against the engine's own step curve
// (llama-batched-bench), measured in ONE run, one server at a time.
//
//   node bench/serve.mjs [--model qwen2.5-coder-0.5b-instruct | smollm2-135m-instruct | path.gguf]
//                        [--threads N] [--clients 1,2,4,8] [--requests 2] [--max-tokens 64]
//                        [--no-peer] [--no-bound] [--out bench/results/serve.json]
//   node bench/serve.mjs --report bench/results/serve.json   # the tables of an earlier run
//
// Each client sends --requests chat completions one after the other,
// streamed, greedy, at most --max-tokens tokens, each a different question of
// test/fixtures/questions.json; "realigned" requests carry one preference
// (the `preferences` extension field). Aggregate tok/s: the tokens every
// client received over the time from the first request to the last answer.
// Per token: a request's (last − first token time) / (tokens − 1); per
// request: its whole time. p50 and p99 over the requests. "Steady" is
// clients / p50 time per token: the throughput while every client's rows
// decode, without the prompt steps between requests and the tail of answers
// that end early, which is what llama-batched-bench's bound measures.
//
// llama-server and llama-batched-bench are built once, offline, from
// vendor/llama.cpp with the flags of the addon's build (this CPU,
// ggml's thread pool, no OpenMP) into bench/.llama-build/ (ccache-backed).
// Needs `npm run build` (dist/ and the addon) and the model (cached fixture,
// fetched by `npm run fetch-models -- --model <name>`, or a path).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const SYSTEM_PROMPT = 'You are a helpful assistant.';
const PREFERENCE = 'Your answer should be concise as much as possible.';

function parseArguments(argv) {
  const options = {
    model: 'qwen2.5-coder-0.5b-instruct', threads: os.availableParallelism(), clients: [1, 2, 4, 8], requests: 2,
    maxTokens: 64, peer: true, bound: true, out: path.join(benchDir, 'results', 'serve.json'), report: undefined,
  };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === '--model') options.model = value();
    else if (flag === '--threads') options.threads = Number(value());
    else if (flag === '--clients') options.clients = value().split(',').map(Number);
    else if (flag === '--requests') options.requests = Number(value());
    else if (flag === '--max-tokens') options.maxTokens = Number(value());
    else if (flag === '--no-peer') options.peer = false;
    else if (flag === '--no-bound') options.bound = false;
    else if (flag === '--out') options.out = path.resolve(value());
    else if (flag === '--report') options.report = path.resolve(value());
    else throw new Error(`unknown flag ${flag}`);
  }
  for (const count of [options.threads, options.requests, options.maxTokens, ...options.clients]) {
    if (!Number.isInteger(count) || count < 1) throw new Error('counts must be positive integers');
  }
  return options;
}

/** The GGUF: a fixture model, fetched and cached as the tests do, or a path. */
async function modelPath(name) {
  const fixtures = createRequire(import.meta.url)(path.join(root, 'dist', 'test', 'support', 'fixtures.js'));
  return fixtures.isFixtureModelName(name) ? fixtures.ensureFixtureModel(name) : path.resolve(name);
}

/** llama-server and llama-batched-bench from the vendored llama.cpp, built with the addon's flags. */
function llamaTools() {
  const build = path.join(benchDir, '.llama-build');
  const binary = (name) => path.join(build, 'bin', name);
  if (fs.existsSync(binary('llama-server')) && fs.existsSync(binary('llama-batched-bench'))) return binary;
  const source = path.join(root, 'vendor', 'llama.cpp');
  if (!fs.existsSync(path.join(source, 'CMakeLists.txt'))) throw new Error('vendor/llama.cpp is missing: run `npm run build`');
  const cache = process.env.AMULET_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'amulet-llm');
  const env = { ...process.env, CCACHE_DIR: process.env.CCACHE_DIR ?? path.join(cache, 'ccache'), CCACHE_BASEDIR: root };
  const launcher = spawnable('ccache') ? ['-DCMAKE_C_COMPILER_LAUNCHER=ccache', '-DCMAKE_CXX_COMPILER_LAUNCHER=ccache'] : [];
  console.error('building llama-server and llama-batched-bench from vendor/llama.cpp (once) ...');
  execFileSync('cmake', ['-S', source, '-B', build, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release', '-DBUILD_SHARED_LIBS=OFF',
    '-DGGML_NATIVE=ON', '-DGGML_OPENMP=OFF', '-DLLAMA_BUILD_SERVER=ON', '-DLLAMA_BUILD_TOOLS=ON',
    '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF', '-DLLAMA_BUILD_UI=OFF', '-DLLAMA_USE_PREBUILT_UI=OFF',
    '-DLLAMA_OPENSSL=OFF', '-DLLAMA_SUBPROCESS=OFF', ...launcher], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('cmake', ['--build', build, '--target', 'llama-server', 'llama-batched-bench', '--parallel',
    String(os.availableParallelism())], { stdio: ['ignore', 'ignore', 'inherit'], env });
  return binary;
}

function spawnable(command) {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort() {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts a server process and waits until /health answers 200. */
async function startServer(command, args, url) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (data) => { log = (log + data).slice(-4000); });
  const exited = once(child, 'exit');
  for (;;) {
    const race = await Promise.race([exited.then(() => 'exited'), new Promise((resolve) => setTimeout(resolve, 200, 'poll'))]);
    if (race === 'exited') throw new Error(`${path.basename(command)} exited:\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return child;
    } catch {
      // not listening yet
    }
  }
}

async function stopServer(child) {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** One streamed chat completion: its time, its tokens and when each piece came. */
async function ask(url, question, maxTokens, preferences) {
  const body = {
    model: 'bench', stream: true, stream_options: { include_usage: true }, temperature: 0, max_tokens: maxTokens,
    messages: [{ role: 'system', content: SYSTEM_PROMPT }, { role: 'user', content: question }],
    ...(preferences ? { preferences } : {}),
  };
  const start = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffered = '';
  let tokens = 0;
  let first;
  let last;
  for await (const piece of response.body) {
    buffered += decoder.decode(piece, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end).replace(/^data: /, '');
      buffered = buffered.slice(end + 2);
      if (event === '[DONE]' || event === '') continue;
      const chunk = JSON.parse(event);
      if (chunk.choices?.[0]?.delta?.content) {
        last = performance.now();
        first ??= last;
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
  }
  const finished = performance.now();
  return { seconds: (finished - start) / 1000, tokens, perToken: tokens > 1 ? (last - first) / 1000 / (tokens - 1) : undefined };
}

function percentile(values, fraction) {
  const sorted = values.filter((value) => value !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** N clients, each sending its requests one after another. */
async function load(url, clients, options, questions, preferences) {
  const start = performance.now();
  const answers = await Promise.all(Array.from({ length: clients }, async (_, client) => {
    const mine = [];
    for (let request = 0; request < options.requests; request += 1) {
      const question = questions[(client * options.requests + request) % questions.length];
      mine.push(await ask(url, question, options.maxTokens, preferences));
    }
    return mine;
  }));
  const seconds = (performance.now() - start) / 1000;
  const all = answers.flat();
  const tokens = all.reduce((sum, answer) => sum + answer.tokens, 0);
  return {
    clients, tokens, seconds, tokensPerSecond: tokens / seconds,
    perToken: { p50: percentile(all.map((a) => a.perToken), 0.5), p99: percentile(all.map((a) => a.perToken), 0.99) },
    perRequest: { p50: percentile(all.map((a) => a.seconds), 0.5), p99: percentile(all.map((a) => a.seconds), 0.99) },
  };
}

/** llama-batched-bench's generation throughput (S_TG, rows/s) per number of parallel sequences. */
function stepCurve(binary, model, threads, rows) {
  const output = execFileSync(binary('llama-batched-bench'), ['-m', model, '-c', String(128 * Math.max(...rows)),
    '-b', '512', '-ub', '512', '-npp', '64', '-ntg', '64', '-npl', rows.join(','), '-t', String(threads)],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const curve = {};
  for (const line of output.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== '');
    if (cells.length === 10 && /^\d+$/.test(cells[2])) curve[Number(cells[2])] = Number(cells[7]);
  }
  return curve;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.report) return report(JSON.parse(fs.readFileSync(options.report, 'utf8')));
  const model = await modelPath(options.model);
  const questions = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'questions.json'), 'utf8'))
    .map((record) => record.question);
  const tools = options.peer || options.bound ? llamaTools() : undefined;
  const results = { model: path.basename(model), threads: options.threads, maxTokens: options.maxTokens,
    requests: options.requests, cpu: os.cpus()[0]?.model, amulet: [], llamaServer: [], stepCurve: {} };
  const warm = questions.slice(0, 1);
  for (const clients of options.clients) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = await startServer(process.execPath, [path.join(root, 'dist', 'cli', 'amulet.js'), 'serve', '--model', model,
      '--port', String(port), '--parallel', String(clients), '--threads', String(options.threads)], url);
    try {
      await load(url, 1, { ...options, requests: 1 }, warm, [PREFERENCE]);
      const plain = await load(url, clients, options, questions);
      const realigned = await load(url, clients, options, questions, [PREFERENCE]);
      results.amulet.push({ clients, plain, realigned });
      console.error(`amulet serve --parallel ${clients}: plain ${plain.tokensPerSecond.toFixed(1)}, ` +
        `realigned ${realigned.tokensPerSecond.toFixed(1)} tok/s`);
    } finally {
      await stopServer(child);
    }
    if (options.peer) {
      const child = await startServer(tools('llama-server'), ['-m', model, '--port', String(port), '-np', String(clients),
        '-c', String(4096 * clients), '-t', String(options.threads), '-b', '512', '--no-webui'], url);
      try {
        await load(url, 1, { ...options, requests: 1 }, warm);
        const plain = await load(url, clients, options, questions);
        results.llamaServer.push({ clients, plain });
        console.error(`llama-server -np ${clients}: plain ${plain.tokensPerSecond.toFixed(1)} tok/s`);
      } finally {
        await stopServer(child);
      }
    }
  }
  if (options.bound) results.stepCurve = stepCurve(tools, model, options.threads, [1, 2, 4, 8]);
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  report(results);
}

function report(results) {
  const f = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
  const ms = (seconds) => f(seconds * 1000, 0);
  console.log(`\n${results.model}, ${results.threads} threads, ${results.requests} requests per client, ` +
    `at most ${results.maxTokens} tokens, greedy (${results.cpu})\n`);
  const steady = (measure, clients) => clients / measure.perToken.p50;
  console.log('| clients | plain tok/s | realigned tok/s | llama-server tok/s | realigned, steady tok/s | ' +
    'realigned ms/token p50 / p99 | realigned s/request p50 / p99 |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const { clients, plain, realigned } of results.amulet) {
    const peer = results.llamaServer.find((row) => row.clients === clients)?.plain;
    console.log(`| ${clients} | ${f(plain.tokensPerSecond)} | ${f(realigned.tokensPerSecond)} | ${f(peer?.tokensPerSecond)} | ` +
      `${f(steady(realigned, clients))} | ${ms(realigned.perToken.p50)} / ${ms(realigned.perToken.p99)} | ` +
      `${f(realigned.perRequest.p50, 2)} / ${f(realigned.perRequest.p99, 2)} |`);
  }
  const row = (clients) => results.amulet.find((entry) => entry.clients === clients);
  const peer = (clients) => results.llamaServer.find((entry) => entry.clients === clients);
  console.log('');
  if (row(4) && peer(4)) {
    console.log(`plain, 4 clients / llama-server -np 4: ${f(row(4).plain.tokensPerSecond / peer(4).plain.tokensPerSecond, 2)}`);
  }
  if (row(4) && row(1)) {
    console.log(`realigned, 4 clients / 1 client: ${f(row(4).realigned.tokensPerSecond / row(1).realigned.tokensPerSecond, 2)}` +
      ` (steady: ${f(steady(row(4).realigned, 4) / steady(row(1).realigned, 1), 2)})`);
  }
  const curve = results.stepCurve;
  if (row(4) && curve[8]) {
    // Four realigned conversations decode 8 rows a step: the bound is half of llama-batched-bench's 8-row throughput.
    const bound = curve[8] / 2;
    console.log(`realigned, 4 clients (8 rows) / llama-batched-bench bound (${f(bound)} tok/s): ` +
      `${f(row(4).realigned.tokensPerSecond / bound, 2)} (steady: ${f(steady(row(4).realigned, 4) / bound, 2)})`);
  }
  if (Object.keys(curve).length > 0) {
    console.log(`llama-batched-bench S_TG (rows/s): ${Object.entries(curve).map(([rows, speed]) => `${rows}: ${f(speed)}`).join(', ')}`);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
