/**
 * The `amulet: { trace: true }` extension field through the official
 * `openai` client, on the SmolLM2 fixture: the whole answer carries one
 * trace per generated token, a streamed one carries each token's trace in
 * the chunk with its text, and a request without the field gets none.
 */
import OpenAI from 'openai';
import { createServer, type AmuletServer, type AmuletTokenTrace } from '../../lib/index';
import { testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

type Body = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
type StreamBody = OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming;

let server: AmuletServer;
let openai: OpenAI;

// Jest runs afterAll hooks in the order they are declared: the server closes before the model goes.
afterAll(async () => {
  await server?.close();
});
const model = useTestModel({ name: 'smollm2-135m-instruct' });
beforeAll(async () => {
  server = createServer(model(), { port: 0, threads: testThreads, contextSize: 512, batchSize: 16 });
  openai = new OpenAI({ baseURL: `${await server.listen()}/v1`, apiKey: 'unused', maxRetries: 0 });
});

const request = {
  model: 'm', messages: [{ role: 'user' as const, content: 'Name a colour.' }], max_tokens: 6,
  preferences: ['Your answer should be enthusiastic.'],
};

/** The `amulet.trace` of a streamed chunk (none when it has none). */
function traceOf(chunk: OpenAI.Chat.Completions.ChatCompletionChunk): AmuletTokenTrace[] {
  return (chunk as unknown as { amulet?: { trace?: AmuletTokenTrace[] } }).amulet?.trace ?? [];
}

/** Bounds every trace holds: probabilities are probabilities, KL is non-negative, greedy emits the realigned top token. */
function expectWellFormed(trace: AmuletTokenTrace): void {
  for (const top of [trace.base, trace.preference, trace.realigned]) {
    expect(top).toEqual({ token: expect.any(Number), text: expect.any(String), probability: expect.any(Number) });
    expect(top.probability).toBeGreaterThan(0);
    expect(top.probability).toBeLessThanOrEqual(1);
  }
  expect(trace.kl_divergence).toBeGreaterThanOrEqual(0);
  expect(trace.realigned.token).toBe(trace.token);
}

it('adds one trace per generated token to a whole answer', async () => {
  const completion = await openai.chat.completions.create({ ...request, amulet: { trace: true } } as Body);
  const amulet = (completion as unknown as { amulet: { method: string; trace: AmuletTokenTrace[] } }).amulet;
  expect(amulet.method).toBe('amulet');
  expect(amulet.trace).toHaveLength(completion.usage!.completion_tokens);
  amulet.trace.forEach(expectWellFormed);
  const plain = await openai.chat.completions.create(request as Body);
  expect((plain as unknown as { amulet: object }).amulet).not.toHaveProperty('trace');
});

it('streams each token\'s trace in the chunk that carries its text', async () => {
  const stream = await openai.chat.completions.create({
    ...request, stream: true, stream_options: { include_usage: true }, amulet: { trace: true },
  } as StreamBody);
  const traces: AmuletTokenTrace[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content) expect(traceOf(chunk).length).toBeGreaterThan(0);
    traces.push(...traceOf(chunk));
    usage = chunk.usage ?? usage;
  }
  expect(traces).toHaveLength(usage!.completion_tokens);
  traces.forEach(expectWellFormed);
});

it('traces plain decoding too: the realigned distribution is the base one', async () => {
  const stream = await openai.chat.completions.create({
    ...request, preferences: [], stream: true, amulet: { trace: true },
  } as StreamBody);
  const traces: AmuletTokenTrace[] = [];
  for await (const chunk of stream) traces.push(...traceOf(chunk));
  expect(traces.length).toBeGreaterThan(0);
  for (const trace of traces) {
    expectWellFormed(trace);
    expect(trace.realigned.token).toBe(trace.base.token);
    expect(trace.kl_divergence).toBeLessThan(1e-4);
  }
});

it('a streamed answer without the field carries no trace', async () => {
  const stream = await openai.chat.completions.create({ ...request, stream: true } as StreamBody);
  for await (const chunk of stream) {
    expect((chunk as unknown as { amulet?: object }).amulet ?? {}).not.toHaveProperty('trace');
  }
});
