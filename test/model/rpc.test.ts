/**
 * A model on llama.cpp's RPC backend: SmolLM2 with every layer on local
 * rpc-server workers (test/support/rpc-workers.ts: one thread each, on free
 * loopback ports, started and killed here), against the same model run in
 * this process. A worker's CPU device holds the weights in their plain
 * layout, so the local run does too (the test addon's plainCpuWeights:
 * without it, a CPU with AMX or a repacked layout would run other kernels,
 * whose rounding, amplified by the realignment, parts the answers within a
 * few tokens). Realigned greedy decoding agrees with the local run token by
 * token up to the first near-tie (test/support/agreement.ts), with the same
 * raw rows, on the host path and in the graph; two preferences and an
 * aborted prompt work as locally; an unreachable worker, a worker killed
 * mid-stream and one of another protocol version each fail with their own
 * code, and everything is disposable afterwards.
 */
import { AmuletError, isAmuletError, loadModel, systemInfo, type Model, type PromptOptions } from '../../lib/index';
import { captureRun, expectAgreementUpToNearTie, SAME_ROWS, type CapturedRun } from '../support/agreement';
import { ensureFixtureModel } from '../support/fixtures';
import { useTestAddon } from '../support/test-addon';
import { paperPreference, testThreads } from '../support/models';
import { withSession } from '../support/sessions';
import { fakeServer, freePort, helloReply, startWorker, type RpcWorker } from '../support/rpc-workers';

const TOKENS = 24;
const questions = [
  'Explain in detail how a refrigerator keeps food cold, step by step.',
  'Describe the water cycle to a ten-year-old.',
];
const verbose = paperPreference('verbose');
const uplifting = paperPreference('uplifting');

function generate(model: Model, question: string, options: PromptOptions & { preferences: string[] }):
  Promise<CapturedRun> {
  const { preferences, ...promptOptions } = options;
  return withSession(model, { preferences }, (session) => captureRun(session, question, { maxTokens: TOKENS, ...promptOptions }));
}

/**
 * The remote run computes the local run's float32 operations on the same
 * kernels, split into other graphs, and realigns in the graph or on the
 * host: the same rows, combined by possibly different arithmetic. Its
 * captured rows are the model's own on either path (vendor/patches/0009).
 */
function expectAgreement(local: CapturedRun, remote: CapturedRun): void {
  expectAgreementUpToNearTie(local, remote, SAME_ROWS, SAME_ROWS);
}

/** Rejects with the AmuletError `promise` rejects with, failing when it resolves. */
async function rejection(promise: PromiseLike<unknown>): Promise<AmuletError> {
  try {
    await promise;
  } catch (error) {
    if (isAmuletError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

const setTestHooks = useTestAddon();
let modelPath: string;
let local: Model;
const workers: RpcWorker[] = [];

beforeAll(async () => {
  modelPath = await ensureFixtureModel('smollm2-135m-instruct');
  setTestHooks({ plainCpuWeights: true });
  try {
    local = await loadModel({ path: modelPath });
  } finally {
    setTestHooks({ plainCpuWeights: false });
  }
  workers.push(await startWorker(), await startWorker());
});

afterAll(async () => {
  await local?.dispose();
  await Promise.all(workers.map((worker) => worker.stop()));
});

test('every build has the RPC backend', () => {
  const info = systemInfo();
  expect(info.rpc).toBe(true);
  expect(info.backends).toEqual(expect.arrayContaining(['CPU', 'RPC']));
});

describe('all layers on one worker', () => {
  let remote: Model;
  beforeAll(async () => {
    remote = await loadModel({ path: modelPath, rpcServers: [workers[0]!.endpoint] });
  });
  afterAll(async () => remote?.dispose());

  test('model.info says that every layer and the output layer are on the worker', () => {
    const { layerCount, offloadedLayers, outputOnGpu, devices } = remote.info;
    expect(offloadedLayers).toBe(layerCount);
    expect(outputOnGpu).toBe(false);
    expect(devices.map(({ kind, description, layers, output }) => ({ kind, description, layers, output }))).toEqual([
      { kind: 'cpu', description: expect.any(String), layers: null, output: false },
      { kind: 'rpc', description: workers[0]!.endpoint, layers: [0, layerCount - 1], output: true },
    ]);
    expect(devices[1]!.memory.total).toBeGreaterThan(0);
  });

  test.each([
    ['on the host', 'cpu', 'cpu'],
    ["in the graph ('auto')", 'auto', 'backend'],
  ] as const)('realigned greedy tokens agree with the local run, realigned %s', async (_label, realignOn, ran) => {
    for (const question of questions) {
      const expected = await generate(local, question, { preferences: [verbose] });
      const actual = await generate(remote, question, { preferences: [verbose], realignOn });
      expect(actual.result.realignedOn).toBe(ran);
      expectAgreement(expected, actual);
    }
  });
});

describe('split over two workers', () => {
  let remote: Model;
  beforeAll(async () => {
    remote = await loadModel({ path: modelPath, rpcServers: workers.map((worker) => worker.endpoint) });
  });
  afterAll(async () => remote?.dispose());

  test('the workers hold consecutive layers, the second one the output layer too', () => {
    const [cpu, first, second] = remote.info.devices;
    expect(cpu!.layers).toBeNull();
    expect(first!.layers![0]).toBe(0);
    expect(second!.layers![0]).toBe(first!.layers![1] + 1);
    expect(second!.layers![1]).toBe(remote.info.layerCount - 1);
    expect([first!.output, second!.output]).toEqual([false, true]);
  });

  test('realigned greedy tokens agree with the local run, with one preference and with two', async () => {
    for (const preferences of [[verbose], [verbose, uplifting]]) {
      const expected = await generate(local, questions[0]!, { preferences });
      const actual = await generate(remote, questions[0]!, { preferences });
      expect(actual.result.realignedOn).toBe('backend');
      expectAgreement(expected, actual);
    }
  });

  test('an aborted prompt ends with ERR_ABORTED, and the session answers the next one', async () => {
    const session = remote.createSession({ preferences: [verbose], threads: testThreads });
    try {
      const controller = new AbortController();
      const stream = session.prompt(questions[1]!, { maxTokens: TOKENS, signal: controller.signal });
      let tokens = 0;
      const aborted = rejection((async () => {
        for await (const chunk of stream) {
          tokens += chunk.tokens.length;
          if (tokens >= 3) controller.abort();
        }
      })());
      expect((await aborted).code).toBe('ERR_ABORTED');
      const next = await session.prompt(questions[0]!, { maxTokens: 8 });
      expect(next.generatedTokenCount).toBeGreaterThan(0);
    } finally {
      await session.dispose();
    }
  });

  test('a beam search runs on the workers too', async () => {
    const result = await remote.beamSearch(questions[0]!, { beams: 2, maxTokens: 8, threads: testThreads });
    expect(result.tokens.length).toBeGreaterThan(0);
  });

  test('tensorSplit divides the layers: a quarter on the first worker', async () => {
    const quarter = await loadModel({ path: modelPath, rpcServers: workers.map((worker) => worker.endpoint),
      tensorSplit: [1, 3] });
    try {
      const [, first, second] = quarter.info.devices;
      // llama.cpp splits the layers and the output layer (layerCount + 1 in all) by the shares.
      expect(first!.layers![1] + 1).toBe(Math.ceil((quarter.info.layerCount + 1) / 4));
      expect(second!.output).toBe(true);
    } finally {
      await quarter.dispose();
    }
  });
});

describe('faults', () => {
  test('a port nothing listens on: ERR_RPC_UNREACHABLE', async () => {
    const port = await freePort();
    const error = await rejection(loadModel({ path: modelPath, rpcServers: [`127.0.0.1:${port}`] }));
    expect(error.code).toBe('ERR_RPC_UNREACHABLE');
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });

  test('a server that accepts but never answers the handshake: ERR_RPC_UNREACHABLE once the handshake times out',
    async () => {
      const silent = await fakeServer(undefined);
      try {
        expect((await rejection(loadModel({ path: modelPath, rpcServers: [silent.endpoint] }))).code)
          .toBe('ERR_RPC_UNREACHABLE');
      } finally {
        await silent.close();
      }
    });

  test.each([
    ['another major version', (size: number) => helloReply(255, size)],
    ["an older protocol's reply layout (3 bytes)", () => Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0])],
  ])('a server that answers the handshake with %s: ERR_RPC_VERSION', async (_label, reply) => {
    const other = await fakeServer(reply);
    try {
      const error = await rejection(loadModel({ path: modelPath, rpcServers: [other.endpoint] }));
      expect(error.code).toBe('ERR_RPC_VERSION');
      expect(error.message).toContain(other.endpoint);
    } finally {
      await other.close();
    }
  });

  test('a worker killed mid-stream: ERR_RPC_DISCONNECTED, then on every call, until the model is ' +
    'disposed and loaded again', async () => {
    const worker = await startWorker();
    const model = await loadModel({ path: modelPath, rpcServers: [worker.endpoint] });
    const session = model.createSession({ preferences: [verbose], threads: testThreads });
    let tokens = 0;
    const killed = rejection((async () => {
      for await (const chunk of session.prompt(questions[0]!, { maxTokens: 200 })) {
        if (tokens === 0) await worker.stop();
        tokens += chunk.tokens.length;
      }
    })());
    expect((await killed).code).toBe('ERR_RPC_DISCONNECTED');
    expect(tokens).toBeGreaterThan(0);
    expect((await rejection(session.prompt(questions[1]!, { maxTokens: 4 }))).code).toBe('ERR_RPC_DISCONNECTED');
    const fresh = model.createSession({ preferences: [verbose], threads: testThreads });
    expect((await rejection(fresh.prompt(questions[1]!, { maxTokens: 4 }))).code).toBe('ERR_RPC_DISCONNECTED');
    await fresh.dispose();
    await session.dispose();
    await model.dispose();

    expect((await rejection(loadModel({ path: modelPath, rpcServers: [worker.endpoint] }))).code)
      .toBe('ERR_RPC_UNREACHABLE');
    const restarted = await startWorker(worker.port);
    try {
      const again = await loadModel({ path: modelPath, rpcServers: [restarted.endpoint] });
      const result = await again.createSession({ preferences: [verbose], threads: testThreads })
        .prompt(questions[1]!, { maxTokens: 4 });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
      await again.dispose();
    } finally {
      await restarted.stop();
    }
  });
});

describe('options', () => {
  test.each([
    ['not a list', '127.0.0.1:50052'],
    ['no port', ['127.0.0.1']],
    ['port 0', ['127.0.0.1:0']],
    ['a port above 65535', ['127.0.0.1:65536']],
    ['an IPv6 address', ['[::1]:50052']],
    ['a URL', ['tcp://127.0.0.1:50052']],
    ['the same server twice', ['127.0.0.1:50052', '127.0.0.1:50052']],
  ])('rpcServers with %s: ERR_INVALID_OPTION', async (_label, rpcServers) => {
    const error = await rejection(loadModel({ path: modelPath, rpcServers: rpcServers as string[] }));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain('rpcServers');
  });

  test.each([
    ['a negative share', [-1, 1]],
    ['all zeros', [0, 0]],
    ['not numbers', ['1', '1']],
  ])('tensorSplit with %s: ERR_INVALID_OPTION', async (_label, tensorSplit) => {
    const error = await rejection(loadModel({ path: modelPath, tensorSplit: tensorSplit as number[] }));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain('tensorSplit');
  });

  test('a tensorSplit without one share per offload device: ERR_INVALID_OPTION naming the devices', async () => {
    const error = await rejection(loadModel({ path: modelPath, rpcServers: [workers[0]!.endpoint],
      tensorSplit: [1, 1] }));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain(workers[0]!.endpoint);
  });

  test('gpuLayers: 0 keeps every layer on the CPU, RPC servers or not', async () => {
    const model = await loadModel({ path: modelPath, rpcServers: [workers[0]!.endpoint], gpuLayers: 0 });
    try {
      expect(model.info.offloadedLayers).toBe(0);
      expect(model.info.devices.find((device) => device.kind === 'rpc')!.layers).toBeNull();
    } finally {
      await model.dispose();
    }
  });
});
