/**
 * The realignment in llama.cpp's compute graph (`realignOn: 'backend'`, the
 * realign sampler's backend path over vendor/patches/0002) against the host
 * path (`realignOn: 'cpu'`), forced onto the CPU backend so that it runs
 * without a GPU: the same rows combined by other float32 arithmetic, so the
 * same greedy tokens up to the first near-tie (test/support/agreement.ts) and
 * realigned log-probabilities within the oracle test's tolerance; the captured
 * raw rows are the model's on both paths (vendor/patches/0009). Also: what falls back to the host, the
 * sampler attachments across turns, and the gpuLayers and realignOn options.
 */
import { nativeBinding } from '../../lib/addon';
import { ensureFixtureModel } from '../support/fixtures';
import {
  AmuletError,
  loadModel,
  systemInfo,
  type Model,
  type PromptOptions,
  type Session,
} from '../../lib/index';
import { captureRun, expectAgreementUpToNearTie, SAME_ROWS, type CapturedRun } from '../support/agreement';
import { loadTestModel, paperPreference, testGpuLayers, testModels, testThreads } from '../support/models';
import { useTestModel, withSession } from '../support/sessions';

/** As test/model/oracle.test.ts: float32 rows and float32 combines, compared above a floor. */
const LOG_PROB_TOLERANCE = 1e-4;
const LOG_PROB_FLOOR = -30;
/** The model's rows come from the same graph on both paths: only the sampler's nodes differ. */
const RAW_ROW_TOLERANCE = 1e-4;
/** Tokens decoded at most for amulet; the other methods check fewer. */
const TOKENS = 24;
const SHORT = 12;

const question = 'Explain in detail how a refrigerator keeps food cold, step by step.';
const concise = paperPreference('concise');
const verbose = paperPreference('verbose');

function generate(model: Model, options: PromptOptions, maxTokens = TOKENS): Promise<CapturedRun> {
  return withSession(model, {}, (session) => prompt(session, question, options, maxTokens));
}

/** A prompt with its tokens and, when captured, its log-probabilities. */
async function prompt(session: Session, text: string, options: PromptOptions, maxTokens: number): Promise<CapturedRun> {
  if (options.captureLogits) return captureRun(session, text, { maxTokens, ...options });
  const tokens: number[] = [];
  const stream = session.prompt(text, { maxTokens, ...options });
  for await (const chunk of stream) tokens.push(...chunk.tokens);
  return { tokens, logProbs: [], rows: [], result: await stream };
}

/** max |a - b| over two rows, NaN kept as the worst. */
function maxRowDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let v = 0; v < a.length; v++) {
    const d = Math.abs(a[v]! - b[v]!);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

/** max |host - backend| over the raw rows of every sequence at the first `positions` tokens. */
function maxRawRowDiff(host: CapturedRun, backend: CapturedRun, positions: number): number {
  let worst = 0;
  for (let p = 0; p < positions; p++) {
    expect(backend.rows[p]!.length).toBe(host.rows[p]!.length);
    host.rows[p]!.forEach((row, k) => { worst = Math.max(worst, maxRowDiff(row, backend.rows[p]![k]!)); });
  }
  return worst;
}

/** max |a - b| over the entries where the host path's log-prob is above the floor. */
function maxLogProbDiff(host: Float32Array, backend: Float32Array): number {
  let worst = 0;
  for (let v = 0; v < host.length; v++) {
    if (!(host[v] > LOG_PROB_FLOOR)) continue;
    const d = host[v] > backend[v] ? host[v] - backend[v] : backend[v] - host[v];
    if (!(d <= worst)) worst = d; // NaN is kept as the worst
  }
  return worst;
}

describe.each(testModels)('backend realignment vs the host path on $name', (testModel) => {
  const model = useTestModel(testModel);
  const summary: string[] = [];
  afterAll(async () => {
    console.log(`${testModel.name}: backend vs host realignment\n${summary.join('\n')}`);
  });

  /** Captures both paths and compares every position they share. */
  async function compareCaptured(label: string, options: PromptOptions, maxTokens: number): Promise<CapturedRun> {
    const host = await generate(model(), { ...options, realignOn: 'cpu', captureLogits: true }, maxTokens);
    const backend = await generate(model(), { ...options, realignOn: 'backend', captureLogits: true }, maxTokens);
    expect(host.result.realignedOn).toBe('cpu');
    expect(backend.result.realignedOn).toBe('backend');
    const { agreed } = expectAgreementUpToNearTie(backend, host, SAME_ROWS);
    let worst = 0;
    for (let p = 0; p < agreed; p++) worst = Math.max(worst, maxLogProbDiff(host.logProbs[p]!, backend.logProbs[p]!));
    // The graph's realigned row is the sampled one; the captured rows stay the model's own.
    const raw = maxRawRowDiff(host, backend, agreed);
    summary.push(`  ${label}: ${agreed} of ${host.tokens.length} tokens shared, max |log-prob diff| ` +
      `${worst.toExponential(2)}, max |raw row diff| ${raw.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(LOG_PROB_TOLERANCE);
    expect(raw).toBeLessThanOrEqual(RAW_ROW_TOLERANCE);
    return host;
  }

  it('amulet: the same greedy tokens up to a near-tie, log-probs within 1e-4; the production path agrees', async () => {
    const options: PromptOptions = { method: 'amulet', preferences: [verbose] };
    const host = await compareCaptured('amulet', options, TOKENS);
    // Without a capture the base row stays on the device and only the token comes back.
    const backend = await generate(model(), { ...options, realignOn: 'backend' });
    expect(backend.result.realignedOn).toBe('backend');
    expect(backend.result.generatedTokenCount).toBe(backend.tokens.length);
    expectAgreementUpToNearTie(backend, host, SAME_ROWS);
  });

  it('amulet with two weighted preferences (three sequences) agrees', async () => {
    const preferences = [{ text: verbose, weight: 1 }, { text: concise, weight: -0.5 }];
    const host = await compareCaptured('amulet, weights [1, -0.5]', { method: 'amulet', preferences }, SHORT);
    const backend = await generate(model(), { method: 'amulet', preferences, realignOn: 'backend' }, SHORT);
    expectAgreementUpToNearTie(backend, host, SAME_ROWS);
  });

  it('the plausibility constraint cuts the same tokens in the graph as on the host', async () => {
    const options: PromptOptions = { method: 'amulet', preferences: [verbose], plausibility: 0.1 };
    const host = await generate(model(), { ...options, realignOn: 'cpu', captureLogits: true }, SHORT);
    const backend = await generate(model(), { ...options, realignOn: 'backend', captureLogits: true }, SHORT);
    expect(backend.result.realignedOn).toBe('backend');
    // The tokens up to a near-tie; the raw rows are not what this test is about.
    const { agreed } = expectAgreementUpToNearTie(backend, host, SAME_ROWS, Infinity);
    let cut = 0;
    let worst = 0;
    const kept = (row: Float32Array): number[] => {
      const tokens: number[] = [];
      for (let v = 0; v < row.length; v++) if (row[v]! > -Infinity) tokens.push(v);
      return tokens;
    };
    for (let p = 0; p < agreed; p++) {
      const hostKept = kept(host.logProbs[p]!);
      expect(kept(backend.logProbs[p]!)).toEqual(hostKept);
      cut += host.logProbs[p]!.length - hostKept.length;
      worst = Math.max(worst, maxLogProbDiff(host.logProbs[p]!, backend.logProbs[p]!));
    }
    summary.push(`  amulet, plausibility 0.1: ${agreed} of ${host.tokens.length} tokens shared, the same tokens cut, ` +
      `max |log-prob diff| ${worst.toExponential(2)}`);
    expect(cut).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(LOG_PROB_TOLERANCE);
  });

  it('the echo guard agrees in the graph, with two weighted preferences', async () => {
    const preferences = [{ text: verbose, weight: 1 }, { text: concise, weight: -0.5 }];
    await compareCaptured('amulet, echoGuard, weights [1, -0.5]', { method: 'amulet', preferences, echoGuard: true },
      SHORT);
  });

  it('la and pref agree', async () => {
    await compareCaptured('la', { method: 'la', preferences: [verbose] }, SHORT);
    // A pref capture stays on the host: without a realignment the graph has no row of its own.
    const host = await generate(model(), { method: 'pref', preferences: [verbose], realignOn: 'cpu', captureLogits: true }, SHORT);
    const backend = await generate(model(), { method: 'pref', preferences: [verbose], realignOn: 'backend' }, SHORT);
    expect(backend.result.realignedOn).toBe('backend');
    expectAgreementUpToNearTie(backend, host, SAME_ROWS);
  });
});

describe('backend realignment on the first fixture model', () => {
  const model = useTestModel();

  it('keeps agreeing over a conversation, with sequences re-attached each turn and a method change', async () => {
    const turns: [string, PromptOptions, number][] = [
      ['Name a fruit.', { method: 'amulet' }, 24],
      ['Why is it healthy?', { method: 'la' }, 24],
      // More sequences than before: the context is recreated with the samplers detached first.
      ['And another one?', { preferences: [verbose, concise] }, 16],
    ];
    const sessions = (['cpu', 'backend'] as const).map((realignOn) =>
      model().createSession({ threads: testThreads, realignOn, preferences: [verbose] }));
    try {
      for (const [text, options, maxTokens] of turns) {
        // The host run's log-probs tell a near-tie; the backend run is the production path (token only).
        const host = await prompt(sessions[0]!, text, { ...options, captureLogits: true }, maxTokens);
        const backend = await prompt(sessions[1]!, text, options, maxTokens);
        expect([host.result.realignedOn, backend.result.realignedOn]).toEqual(['cpu', 'backend']);
        // Once the answers part at a near-tie, the conversations differ and later turns are not comparable.
        if (!expectAgreementUpToNearTie(backend, host, SAME_ROWS).identical) break;
      }
    } finally {
      await Promise.all(sessions.map((session) => session.dispose()));
    }
  });

  it('samples with temperature and top-k on the backend', async () => {
    const run = await generate(model(), {
      preferences: [verbose],
      realignOn: 'backend',
      sampling: { temperature: 0.8, topK: 40, topP: 0.95, seed: 7 },
    }, 16);
    expect(run.result.realignedOn).toBe('backend');
    expect(run.result.generatedTokenCount).toBeGreaterThan(0);
  });

  it('runs on the host what the backend path does not cover, whatever is asked', async () => {
    const fallbacks: [string, PromptOptions][] = [
      ['amulet-iterative', { method: 'amulet-iterative' }],
      ['a KL budget', { klBudget: 0.5 }],
      ['a trace', { trace: true }],
      ['a repetition penalty', { sampling: { repeatPenalty: 1.1 } }],
      ['a capture with temperature sampling', { captureLogits: true, sampling: { temperature: 0.7, seed: 1 } }],
    ];
    for (const [label, options] of fallbacks) {
      const run = await generate(model(), { preferences: [verbose], realignOn: 'backend', ...options }, 4);
      expect([label, run.result.realignedOn]).toEqual([label, 'cpu']);
    }
    // More sequences than a micro-batch holds: the graph could not see every row.
    const session = model().createSession({ threads: testThreads, batchSize: 8, realignOn: 'backend' });
    try {
      const preferences = Array.from({ length: 8 }, (_, i) => `${concise} (${i})`);
      const run = await prompt(session, 'Hi.', { preferences }, 2);
      expect(run.result.realignedOn).toBe('cpu');
    } finally {
      await session.dispose();
    }
  });

  it('auto realigns in the graph exactly when the logits are on a GPU', async () => {
    const run = await generate(model(), { preferences: [verbose] }, 2);
    expect(run.result.realignedOn).toBe(testGpuLayers > 0 ? 'backend' : 'cpu');
  });
});

describe('gpuLayers and realignOn options', () => {
  it('gpuLayers > 0 or max without a GPU backend fails with ERR_INVALID_OPTION; gpuLayers 0 loads', async () => {
    const path = await ensureFixtureModel(testModels[0].name);
    if (nativeBinding().systemInfo().gpuOffload) return; // a GPU build on a GPU machine: gpu-check.sh covers it
    for (const gpuLayers of [99, 'max'] as const) {
      const error = await loadModel({ path, gpuLayers }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(AmuletError);
      expect((error as AmuletError).code).toBe('ERR_INVALID_OPTION');
      expect((error as AmuletError).message).toMatch(/gpuLayers.*GPU variant/);
    }
    const model = await loadModel({ path, gpuLayers: 0 });
    await model.dispose();
  });

  it('systemInfo and model.info say what is on the GPU', async () => {
    const system = systemInfo();
    expect(system.gpuOffload).toBe(nativeBinding().systemInfo().gpuOffload);
    expect(system.system).toMatch(/CPU/);
    const model = await loadTestModel(testModels[0]);
    try {
      const { layerCount, offloadedLayers, outputOnGpu } = model.info;
      expect(layerCount).toBe(testModels[0].name === 'smollm2-135m-instruct' ? 30 : 18);
      expect(offloadedLayers).toBe(Math.min(testGpuLayers, layerCount));
      expect(outputOnGpu).toBe(testGpuLayers > layerCount);
    } finally {
      await model.dispose();
    }
  });

  it('rejects a gpuLayers that is neither a layer count nor max', async () => {
    const path = await ensureFixtureModel(testModels[0].name);
    for (const gpuLayers of ['all', 'MAX', -1, 1.5, Number.NaN, 100_001]) {
      await expect(loadModel({ path, gpuLayers: gpuLayers as never })).rejects.toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/^gpuLayers must be an integer from 0 to 100000, or max/) }));
    }
  });

  it('rejects an unknown realignOn with ERR_INVALID_OPTION, on the session and on a prompt', async () => {
    const model = await loadTestModel(testModels[0]);
    try {
      for (const value of ['gpu', '', 1, null, true]) {
        expect(() => model.createSession({ realignOn: value as never })).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/realignOn/) }));
      }
      const session = model.createSession({ preferences: [concise] });
      expect(() => session.prompt('Hi.', { realignOn: 'GPU' as never })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/realignOn must be one of auto, cpu, backend/) }));
      await session.dispose();
    } finally {
      await model.dispose();
    }
  });
});
