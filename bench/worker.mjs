#!/usr/bin/env node
// One method of the benchmark, in a process of its own so that its peak RSS
// is its own. Started by bench/run.mjs with one JSON argument (see run.mjs's
// `workerJob`); prints one JSON line with every measured generation.
//
// Every generation is greedy, `maxTokens` new tokens at most, in one warm
// session: the session's first prompt (the warm-up) is not measured, and
// between prompts the history is cleared, so each prompt is a fresh question
// whose system prompt the KV cache already holds.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingProxy } from './rpc-proxy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const job = JSON.parse(process.argv[2]);
/**
 * The paper's reward scale: the rows time the paper's update, as the reference
 * row does. The cost per token does not depend on α, but the answers, and so
 * which questions reach maxTokens, do.
 */
const PAPER_ALPHA = 2;

/**
 * One measured generation. tokensPerSecond is the same measure for every
 * method, ours and the peers': decode steps per second after the first token,
 * (tokens - 1) / (time from the first token to the last).
 */
function sample(tokens, decodeMs, ttftMs, samplerUsPerToken, sequences) {
  return {
    tokens,
    decodeMs,
    tokensPerSecond: tokens > 1 && decodeMs > 0 ? ((tokens - 1) * 1000) / decodeMs : 0,
    ttftMs,
    samplerUsPerToken,
    sequences,
  };
}

/**
 * The public API: `method` with `preferences`, as a user would call it, on
 * the addon build run.mjs chose (`job.addon`). With `ceiling`, its test twin
 * (amulet_test.node, built beside it) decodes the same sequences in the same
 * batches and samples the preference row as it is, without realigning: the
 * engine's own multi-sequence step, the most realigned decoding can reach.
 * With `rpcServers`, every layer is on those llama.cpp RPC workers, each
 * reached through a counting proxy: the samples then also hold the bytes
 * sent and received per decode step, and `loadTraffic` those of loading.
 */
async function runAmulet({ ceiling = false } = {}) {
  process.env.AMULET_ADDON = ceiling ? path.join(path.dirname(job.addon), 'amulet_test.node') : job.addon;
  const { loadModel } = require(path.join(root, 'dist', 'lib', 'index.js'));
  if (ceiling) require(path.join(root, 'dist', 'lib', 'addon.js')).nativeBinding().setTestHooks({ ceiling: true });
  // With RPC workers, each behind a proxy that counts the bytes each way.
  const proxies = await Promise.all((job.rpcServers ?? []).map(countingProxy));
  const traffic = () => proxies.reduce((sum, proxy) => ({
    sent: sum.sent + proxy.counts.sent, received: sum.received + proxy.counts.received,
  }), { sent: 0, received: 0 });
  const model = await loadModel({
    path: job.model,
    chatTemplate: job.chatTemplate || undefined,
    ...(proxies.length > 0 && { rpcServers: proxies.map((proxy) => proxy.endpoint) }),
  });
  const loadTraffic = traffic();
  const session = model.createSession({
    systemPrompt: job.systemPrompt,
    preferences: job.preferences,
    method: job.method,
    alpha: PAPER_ALPHA,
    threads: job.threads,
    contextSize: job.contextSize,
    realignOn: job.realignOn,
  });
  const samples = [];
  try {
    for (const [index, question] of job.prompts.entries()) {
      session.clearHistory();
      const stream = session.prompt(question, { maxTokens: job.maxTokens });
      // The bytes of the decode steps after the first token, as tokens/s counts them.
      let atFirstToken;
      let laterTokens = 0;
      for await (const chunk of stream) {
        if (atFirstToken === undefined) atFirstToken = traffic();
        else laterTokens += chunk.tokens.length;
      }
      const result = await stream;
      const atEnd = traffic();
      // generation time: from the end of prompt evaluation to the last sampled token.
      const generationMs = result.tokensPerSecond > 0 ? (result.generatedTokenCount * 1000) / result.tokensPerSecond : 0;
      if (index >= job.warmup) {
        const measured = sample(result.generatedTokenCount, generationMs, result.timeToFirstTokenMs,
          result.samplerMicrosecondsPerToken, result.sequenceCount);
        if (proxies.length > 0 && laterTokens > 0) {
          measured.sentPerStep = (atEnd.sent - atFirstToken.sent) / laterTokens;
          measured.receivedPerStep = (atEnd.received - atFirstToken.received) / laterTokens;
          measured.realignedOn = result.realignedOn;
        }
        samples.push(measured);
      }
    }
  } finally {
    await session.dispose();
    await model.dispose();
    await Promise.all(proxies.map((proxy) => proxy.close()));
  }
  return { samples, ...(proxies.length > 0 && { loadTraffic }) };
}

/**
 * The peer: plain generation of the preference prompt with node-llama-cpp
 * (bench/package.json pins it), its prebuilt CPU binary or its build from
 * source for this CPU (job.peerBuild, made by run.mjs), the same GGUF,
 * threads, context size and greedy decoding. Two ways: its chat session, as
 * an application uses it ('chat'), and its lowest-level generation loop,
 * LlamaContextSequence.evaluate over the rendered prompt's tokens ('raw').
 */
async function runNodeLlamaCpp(mode) {
  const nlc = await import(path.join(root, 'bench', 'node_modules', 'node-llama-cpp', 'dist', 'index.js'));
  const llama = await nlc.getLlama(job.peerBuild === 'source'
    ? { gpu: false, usePrebuiltBinaries: false, build: 'never', cmakeOptions: job.peerCmakeOptions, logLevel: 'error' }
    : { gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: job.model, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: job.contextSize,
    threads: job.threads,
    batchSize: 512,
    flashAttention: 'auto',  // what llama_context_default_params() gives amulet-llm
    sequences: 1,
  });
  const sequence = context.getSequence();
  const systemPrompt = `${job.systemPrompt} ${job.preferences[0]}`;
  const chatWrapper = job.chatTemplate === 'gemma' ? new nlc.GemmaChatWrapper() : undefined;
  const session = new nlc.LlamaChatSession({ contextSequence: sequence, systemPrompt, ...(chatWrapper && { chatWrapper }) });
  const peer = {
    package: 'node-llama-cpp@3.21.1',
    api: mode === 'raw' ? 'LlamaContextSequence.evaluate' : 'LlamaChatSession.prompt',
    binary: llama.buildType,
    system: llama.systemInfo?.trim(),
    chatWrapper: session.chatWrapper?.wrapperName,
  };
  const promptTokens = (question) => {
    const { contextText } = session.chatWrapper.generateContextState({
      chatHistory: [{ type: 'system', text: systemPrompt }, { type: 'user', text: question }, { type: 'model', response: [] }],
    });
    return contextText.tokenize(model.tokenizer);
  };
  const samples = [];
  try {
    for (const [index, question] of job.prompts.entries()) {
      const times = [];
      let start;
      if (mode === 'raw') {
        const tokens = promptTokens(question);
        await sequence.clearHistory();
        start = performance.now();
        for await (const token of sequence.evaluate(tokens, { temperature: 0 })) {
          if (model.isEogToken(token)) break;
          times.push(performance.now());
          if (times.length >= job.maxTokens) break;
        }
      } else {
        session.resetChatHistory();
        start = performance.now();
        await session.prompt(question, {
          maxTokens: job.maxTokens,
          temperature: 0,
          onToken: (tokens) => {
            const now = performance.now();
            for (let k = 0; k < tokens.length; ++k) times.push(now);
          },
        });
      }
      if (index >= job.warmup && times.length > 0) {
        samples.push(sample(times.length, times[times.length - 1] - times[0], times[0] - start, null, 1));
      }
    }
  } finally {
    session.dispose({ disposeSequence: false });
    sequence.dispose();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
  return { samples, peer };
}

/**
 * Question selection: how many tokens the plain and the amulet answers to
 * each candidate question run to, so that run.mjs can keep questions whose
 * answers reach maxTokens and every method decodes the same number of tokens.
 */
async function runSelection() {
  process.env.AMULET_ADDON = job.addon;
  const { loadModel } = require(path.join(root, 'dist', 'lib', 'index.js'));
  const model = await loadModel({ path: job.model, chatTemplate: job.chatTemplate || undefined });
  const lengths = [];
  try {
    const sessions = ['pref', 'amulet'].map((method) => model.createSession({
      systemPrompt: job.systemPrompt,
      preferences: job.preferences,
      method,
      alpha: PAPER_ALPHA,
      threads: job.threads,
      contextSize: job.contextSize,
    }));
    for (const question of job.prompts) {
      const tokens = [];
      for (const session of sessions) {
        session.clearHistory();
        tokens.push((await session.prompt(question, { maxTokens: job.maxTokens })).generatedTokenCount);
      }
      lengths.push({ question, plain: tokens[0], amulet: tokens[1] });
      if (lengths.filter((entry) => Math.min(entry.plain, entry.amulet) >= job.maxTokens).length >= job.wanted) break;
    }
    for (const session of sessions) await session.dispose();
  } finally {
    await model.dispose();
  }
  return lengths;
}

async function main() {
  if (job.kind === 'select') {
    process.stdout.write(`${JSON.stringify({ lengths: await runSelection() })}\n`);
    return;
  }
  let samples;
  let extra = {};
  if (job.kind === 'ceiling') ({ samples, ...extra } = await runAmulet({ ceiling: true }));
  else if (job.kind === 'node-llama-cpp') ({ samples, ...extra } = await runNodeLlamaCpp('chat'));
  else if (job.kind === 'node-llama-cpp-raw') ({ samples, ...extra } = await runNodeLlamaCpp('raw'));
  else ({ samples, ...extra } = await runAmulet());
  // ru_maxrss in KiB: the peak resident set of this process, model included.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ samples, peakRssMb, ...extra })}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench worker (${job.label}) failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
