#!/usr/bin/env node
// Tokens/s of amulet vs plain decoding with every layer offloaded to the GPU
// (run by tools/gpu/gpu-check.sh): for each fixture model, plain decoding of the
// preference prompt (one sequence), and amulet (base + preference in one
// batch) with the realignment in the compute graph and on the host. Greedy,
// the same questions for each, one warm-up prompt first. Then, against the
// same model on the CPU, how many leading greedy amulet tokens agree: GPU
// kernels round differently, so a long answer may part ways at a near-tie,
// which is reported, not failed. Writes JSON to --out.
//
//   node tools/gpu/gpu-bench.mjs [--out file.json] [--max-tokens 128] [--gpu-layers 999]
//                            [--models smollm2-135m-instruct,gemma3-270m]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadModel, systemInfo } = require('../../dist/lib/index.js');
const { ensureFixtureModel } = require('../../dist/test/support/fixtures.js');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const out = option('--out', 'bench/results/gpu-bench.json');
const maxTokens = Number(option('--max-tokens', '128'));
const gpuLayers = Number(option('--gpu-layers', '999'));

// With 'formal', the plain and amulet answers of both fixture models to these
// questions all run to 128 tokens on the CPU, so every method decodes as many
// tokens ('verbose' makes SmolLM2's amulet answers stop within a dozen).
const preference = 'Your answer should be formal as much as possible.';
const questions = [
  'How do I boil an egg?',
  'What should I pack for a weekend of hiking?',
  'Explain how vaccines train the immune system.',
];
const methods = [
  { label: 'plain (preference prompt, 1 sequence)', options: { method: 'pref', realignOn: 'cpu' } },
  { label: 'amulet, realigned in the graph', options: { method: 'amulet', realignOn: 'backend' }, comparedWithCpu: true },
  { label: 'amulet, realigned on the host', options: { method: 'amulet', realignOn: 'cpu' } },
];
const models = [
  { name: 'smollm2-135m-instruct' },
  { name: 'gemma3-270m', chatTemplate: 'gemma' },
];
const wanted = option('--models', models.map(({ name }) => name).join(',')).split(',');
const chosen = models.filter(({ name }) => wanted.includes(name));

/** The GPU's name as nvidia-smi gives it, for docs/guide/gpu.md's table. */
function gpuName() {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'no GPU (nvidia-smi failed)';
  }
}

/** One greedy answer in a fresh session: its tokens and its result. */
async function answer(model, question, options) {
  const session = model.createSession({ preferences: [preference], contextSize: 1024 });
  try {
    const tokens = [];
    const stream = session.prompt(question, { maxTokens, ...options });
    for await (const chunk of stream) tokens.push(...chunk.tokens);
    return { tokens, result: await stream };
  } finally {
    await session.dispose();
  }
}

/**
 * Per question, how many leading tokens of `answered` (the amulet answers
 * timed above) the same model loaded on the CPU shares.
 */
async function agreementWithCpu(load, answered) {
  const cpuModel = await loadModel({ ...load, gpuLayers: 0 });
  try {
    const agreement = [];
    for (const [question, here] of answered) {
      const { tokens: onCpu } = await answer(cpuModel, question, { method: 'amulet', realignOn: 'cpu' });
      let same = 0;
      while (same < here.length && same < onCpu.length && here[same] === onCpu[same]) same += 1;
      agreement.push({ question, agreeingTokens: same, tokens: here.length, cpuTokens: onCpu.length });
    }
    return agreement;
  } finally {
    await cpuModel.dispose();
  }
}

const report = { gpu: gpuName(), system: systemInfo().system, gpuLayers, maxTokens, questions, results: [], cpuAgreement: [] };
for (const { name, chatTemplate } of chosen) {
  const load = { path: await ensureFixtureModel(name), chatTemplate };
  const model = await loadModel({ ...load, gpuLayers });
  const answered = new Map();  // question -> tokens of the method compared with the CPU
  try {
    for (const { label, options, comparedWithCpu } of methods) {
      let tokens = 0;
      let ms = 0;
      const where = new Set();
      for (const [i, question] of [questions[0], ...questions].entries()) {
        const { tokens: answerTokens, result } = await answer(model, question, options);
        where.add(result.realignedOn);
        if (i === 0) continue; // warm-up: CUDA graphs and kernels are set up on the first prompt
        if (comparedWithCpu) answered.set(question, answerTokens);
        tokens += result.generatedTokenCount;
        ms += result.generatedTokenCount / result.tokensPerSecond * 1000;
      }
      const entry = { model: name, method: label, tokens, tokensPerSecond: tokens / (ms / 1000), realignedOn: [...where] };
      report.results.push(entry);
      console.log(`${name.padEnd(22)} ${label.padEnd(40)} ${entry.tokensPerSecond.toFixed(1).padStart(8)} tok/s (${tokens} tokens, ${entry.realignedOn})`);
    }
    for (const entry of await agreementWithCpu(load, answered)) {
      report.cpuAgreement.push({ model: name, ...entry });
      console.log(`${name.padEnd(22)} amulet in the graph vs on the CPU: the first ${entry.agreeingTokens} of ` +
        `${entry.tokens} / ${entry.cpuTokens} tokens agree (${entry.question})`);
    }
  } finally {
    await model.dispose();
  }
}
// The rows of docs/guide/gpu.md's table: tokens/s of each method, in the order of `methods`.
for (const { name } of chosen) {
  const cells = report.results.filter((entry) => entry.model === name).map((entry) => entry.tokensPerSecond.toFixed(1));
  console.log(`| ${report.gpu} | ${name} | ${cells.join(' | ')} |`);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
