/**
 * The GPU path on a real Vulkan device: the Vulkan variant of the addon
 * (`npm run build:vulkan`, or the @amulet-llm/linux-x64-vulkan package) with
 * every layer of SmolLM2 on the device, so that the weights, the KV cache,
 * the logits and the realignment in the graph live in the device's own
 * buffers and go through its own graph scheduling and sampler ops. Without a
 * GPU, Mesa's lavapipe (apt: mesa-vulkan-drivers) is such a device, in
 * software; ggml's Vulkan backend passes over CPU-type devices unless
 * GGML_VK_VISIBLE_DEVICES names them, which the tests' global setup does
 * (device 0) unless the environment already chose.
 *
 * Skipped, with the reason printed, when the Vulkan build or a Vulkan device
 * is missing. Answers are short: lavapipe is slow, and this file runs in CI.
 */
import { ensureFixtureModel } from '../support/fixtures';
import {
  acrossShapesRealigned,
  ACROSS_SHAPES,
  captureRun,
  expectAgreementUpToNearTie,
  SAME_ROWS,
  type CapturedRun,
} from '../support/agreement';
import { compareLogProbs, multiPreferenceAmulet, paperHyperparameters } from '../support/oracle';
import { paperPreference, testThreads } from '../support/models';
import type * as Lib from '../../lib/index';

/** The CPU reference: the addon AMULET_ADDON names (the one the other test files run on), else the CPU build. */
const cpuAddon = process.env['AMULET_ADDON'];
delete process.env['AMULET_ADDON'];

/** Sets environment variables for the duration of `body`. */
function withEnv<T>(env: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  const set = (values: Record<string, string | undefined>): void => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  set(env);
  try {
    return body();
  } finally {
    set(saved);
  }
}

/** The library twice, in separate module instances: one on the Vulkan variant, one on the CPU build. */
function loadLibrary(variant: 'vulkan' | 'cpu'): typeof Lib {
  let library: typeof Lib | undefined;
  jest.isolateModules(() => {
    library = require('../../lib/index') as typeof Lib;
  });
  // Loads the addon now, while the environment names this variant.
  withEnv({ AMULET_VARIANT: variant, AMULET_ADDON: variant === 'cpu' ? cpuAddon : undefined },
    () => library!.systemInfo());
  return library!;
}

/** Why this file cannot run here, if it cannot; else the Vulkan library. */
function vulkanOrReason(): typeof Lib | string {
  let library: typeof Lib;
  try {
    library = loadLibrary('vulkan');
  } catch (error) {
    return `no Vulkan build of the addon (npm run build:vulkan; needs libvulkan-dev, glslc, spirv-headers): ${String(error)}`;
  }
  if (!library.systemInfo().gpuOffload) {
    return 'the Vulkan build finds no Vulkan device (apt-get install mesa-vulkan-drivers gives lavapipe, a software one)';
  }
  return library;
}

const vulkanOrWhy = vulkanOrReason();
const describeOnVulkan = typeof vulkanOrWhy === 'string' ? describe.skip : describe;
if (typeof vulkanOrWhy === 'string') console.warn(`test/model/vulkan.test.ts skipped: ${vulkanOrWhy}`);

const smollm2 = 'smollm2-135m-instruct';
/** Short prompts and answers: lavapipe runs its shaders on this machine's cores, a prompt costs seconds. */
const question = 'Name a fruit.';
const concise = paperPreference('concise');
const verbose = paperPreference('verbose');
const TOKENS = 8;
/** The realigned row, host combine vs graph combine: as in backend-sampling.test.ts and oracle.test.ts. */
const LOG_PROB_TOLERANCE = 1e-4;
const LOG_PROB_FLOOR = -30;
/**
 * The raw rows of one prompt from lavapipe's shaders against the CPU
 * backend's kernels differ like rows of differently shaped batches (other
 * kernels, f16 accumulation in the device's matrix products): measured on
 * SmolLM2, up to 0.45 nats between the two backends' log-probabilities of
 * a row's top ten tokens, and 2.2 on the realigned row, over the five tokens
 * the runs shared. So the bounds of test/support/agreement.ts across shapes.
 */
const ACROSS_BACKENDS = ACROSS_SHAPES;
const amulet: Lib.PromptOptions = { method: 'amulet', preferences: [verbose], ...paperHyperparameters };

describeOnVulkan('the Vulkan variant on a Vulkan device', () => {
  const vulkan = vulkanOrWhy as typeof Lib;
  let model: Lib.Model;

  beforeAll(async () => {
    model = await vulkan.loadModel({ path: await ensureFixtureModel(smollm2), gpuLayers: 'max' });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  async function run(options: Lib.PromptOptions, on: Lib.Model = model, maxTokens = TOKENS): Promise<CapturedRun> {
    const session = on.createSession({ threads: testThreads });
    try {
      return await captureRun(session, question, { maxTokens, ...options });
    } finally {
      await session.dispose();
    }
  }

  async function tokensOf(options: Lib.PromptOptions, maxTokens: number): Promise<{ tokens: number[]; result: Lib.GenerationResult }> {
    const session = model.createSession({ threads: testThreads });
    try {
      const tokens: number[] = [];
      const stream = session.prompt(question, { maxTokens, ...options });
      for await (const chunk of stream) tokens.push(...chunk.tokens);
      return { tokens, result: await stream };
    } finally {
      await session.dispose();
    }
  }

  /** amulet with captures on the device, realigned on the host and in the graph: shared by two tests. */
  let captured: Promise<{ host: CapturedRun; backend: CapturedRun }> | undefined;
  function capturedRuns(): Promise<{ host: CapturedRun; backend: CapturedRun }> {
    captured ??= (async () => ({
      host: await run({ ...amulet, realignOn: 'cpu' }),
      backend: await run({ ...amulet, realignOn: 'backend' }),
    }))();
    return captured;
  }

  it('systemInfo reports the Vulkan variant with a device, and model.info lists it holding every layer', () => {
    const system = vulkan.systemInfo();
    expect(system.gpuOffload).toBe(true);
    expect(system.backends).toContain('Vulkan');
    expect(system.addon.variant).toBe('vulkan');
    expect(system.addon.file).toMatch(/amulet\.node$/);
    const { layerCount, offloadedLayers, outputOnGpu, devices } = model.info;
    expect(offloadedLayers).toBe(layerCount);
    expect(outputOnGpu).toBe(true);
    const gpu = devices.find((device) => device.kind === 'gpu');
    expect(gpu).toBeDefined();
    expect(gpu!.name).toMatch(/^Vulkan\d+$/);
    expect(gpu!.layers).toEqual([0, layerCount - 1]);
    expect(gpu!.output).toBe(true);
    expect(gpu!.memory.total).toBeGreaterThan(0);
  });

  it('generates with pref and with two weighted preferences, realigning in the graph', async () => {
    const cases: [string, Lib.PromptOptions][] = [
      ['pref', { method: 'pref', preferences: [verbose] }],
      ['two preferences', { method: 'amulet', preferences: [{ text: verbose, weight: 1 }, { text: concise, weight: -0.5 }] }],
    ];
    for (const [label, options] of cases) {
      const { tokens, result } = await tokensOf(options, 3);
      // The logits are on the device, so 'auto' realigns there.
      expect([label, result.realignedOn]).toEqual([label, 'backend']);
      expect(tokens.length).toBeGreaterThan(0);
      expect(result.generatedTokenCount).toBe(tokens.length);
    }
  });

  it('amulet in the graph and on the host agree, and match the float64 oracle on the device\'s rows', async () => {
    const { host, backend } = await capturedRuns();
    expect([host.result.realignedOn, backend.result.realignedOn]).toEqual(['cpu', 'backend']);
    const { agreed } = expectAgreementUpToNearTie(backend, host, SAME_ROWS);
    expect(agreed).toBeGreaterThan(0);
    // The host run's captured rows are the device's raw rows; on the backend path
    // llama.cpp reports the sampled (realigned) row in place of the primary
    // sequence's raw one, so both paths are checked against the oracle of the host run's rows.
    for (let position = 0; position < agreed; position++) {
      const [base, ...preferences] = host.rows[position]!;
      const oracle = multiPreferenceAmulet(base!, preferences, [1], paperHyperparameters);
      for (const { logProbs } of [host, backend]) {
        const comparison = compareLogProbs(logProbs[position]!, oracle, LOG_PROB_FLOOR);
        expect(comparison.finitenessMismatches).toEqual([]);
        expect(comparison.actualArgMax).toBe(comparison.oracleArgMax);
        expect(comparison.maxDiff).toBeLessThanOrEqual(LOG_PROB_TOLERANCE);
      }
    }
  });

  it('decodes the same tokens as the CPU backend up to a near-tie, from rows within the backends\' rounding', async () => {
    const cpu = loadLibrary('cpu');
    expect(cpu.systemInfo().addon.variant).toBe('cpu');
    const onCpu = await cpu.loadModel({ path: await ensureFixtureModel(smollm2) });
    try {
      const reference = await run({ ...amulet, realignOn: 'cpu' }, onCpu);
      const { host } = await capturedRuns();
      const realignedBound = acrossShapesRealigned(vulkan.guidanceScale(paperHyperparameters));
      const { agreed } = expectAgreementUpToNearTie(host, reference, realignedBound, ACROSS_BACKENDS);
      expect(agreed).toBeGreaterThan(0);
    } finally {
      await onCpu.dispose();
    }
  });

  it('samples with temperature, top-k and top-p on the device, the same tokens for the same seed', async () => {
    const options: Lib.PromptOptions = {
      preferences: [verbose],
      sampling: { temperature: 0.8, topK: 40, topP: 0.95, seed: 7 },
    };
    const first = await tokensOf(options, 4);
    const second = await tokensOf(options, 4);
    expect(first.result.realignedOn).toBe('backend');
    expect(first.tokens.length).toBeGreaterThan(0);
    expect(second.tokens).toEqual(first.tokens);
  });

  it('a prompt past the context, an abort and a dispose while decoding fail cleanly', async () => {
    const session = model.createSession({ threads: testThreads, contextSize: 256, preferences: [verbose] });
    try {
      const overflow = session.prompt('word '.repeat(400), { maxTokens: 4 });
      await expect(overflow.result).rejects.toMatchObject({ code: 'ERR_CONTEXT_FULL' });
      // The session still decodes after the overflow, until aborted.
      const controller = new AbortController();
      const aborted = session.prompt(question, { maxTokens: 64, signal: controller.signal });
      let seen = 0;
      await expect((async () => {
        for await (const chunk of aborted) if (chunk.tokens.length > 0 && ++seen === 2) controller.abort();
      })()).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      // A token already on its way may still arrive after the abort.
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(session.history).toEqual([]);
    } finally {
      await session.dispose();
    }

    const disposed = model.createSession({ threads: testThreads, preferences: [verbose] });
    const stream = disposed.prompt(question, { maxTokens: 64 });
    const first = await stream[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
    await disposed.dispose();
    await expect(stream.result).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});
