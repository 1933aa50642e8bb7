/**
 * The server's slots decode together on one context: concurrent clients
 * (the `openai` package, streamed and not) are served together (that they
 * get what each would alone is test/model/batching.test.ts'), the operator sees the load at /metrics (Prometheus text) and /slots, many
 * more clients than slots complete or get 503 beyond the queue, and a client
 * that leaves stops its rows while the others go on.
 */
import OpenAI from 'openai';
import { createServer, type AmuletServer, type ServerOptions } from '../../lib/index';
import { endlessSeed, ENDLESS_TEMPERATURE } from '../support/endless-seed';
import { paperPreference, testModels, testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const model = useTestModel(testModels.find((candidate) => candidate.name === 'smollm2-135m-instruct') ?? testModels[0]!);
let server: AmuletServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: ServerOptions): Promise<{ url: string; openai: OpenAI }> {
  server = createServer(model(), { port: 0, threads: testThreads, contextSize: 1024, batchSize: 64, ...options });
  const url = await server.listen();
  return { url, openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

const concise = paperPreference('concise');
const questions = ['Name a colour.', 'What is a cat?', 'Say hello.', 'Count to three.'];

/** Parses Prometheus's text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a metric line: ${JSON.stringify(line)}`);
    values.set(match[1]!, Number(match[2]));
  }
  return values;
}

async function metrics(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

test('four clients, streamed and not, decode together; /metrics and /slots show what they did', async () => {
  const { url, openai } = await start({ parallel: 4, preferences: [concise] });
  const ask = async (content: string, stream: boolean): Promise<string> => {
    const body = { model: 'any', messages: [{ role: 'user' as const, content }], max_tokens: 16 };
    if (!stream) return (await openai.chat.completions.create(body)).choices[0]!.message.content ?? '';
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ ...body, stream: true })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    return text;
  };
  const together = await Promise.all(questions.map((content, index) => ask(content, index % 2 === 0)));
  for (const text of together) expect(text.length).toBeGreaterThan(0);
  const counted = await metrics(url);
  expect(counted.get('amulet_completions_total')).toBe(4);
  expect(counted.get('amulet_slots')).toBe(4);
  expect(counted.get('amulet_slots_busy')).toBe(0);
  expect(counted.get('amulet_kv_sequences')).toBe(8);
  expect(counted.get('amulet_tokens_generated_total')).toBe(counted.get('amulet_completion_tokens_total'));
  expect(counted.get('amulet_tokens_evaluated_total')).toBeGreaterThan(0);
  expect(counted.get('amulet_decode_step_seconds_count')).toBe(counted.get('amulet_decode_step_seconds_bucket{le="+Inf"}'));
  expect(counted.get('amulet_http_requests_total{code="200"}')).toBe(4);
  const slots = await (await fetch(`${url}/slots`)).json() as { id: number; is_processing: boolean; messages: number;
    last_completion: { method: string; completion_tokens: number } | null }[];
  expect(slots.map((slot) => slot.id)).toEqual([0, 1, 2, 3]);
  for (const slot of slots) {
    expect(slot.is_processing).toBe(false);
    expect(slot.messages).toBe(2);
    expect(slot.last_completion?.method).toBe('amulet');
  }
});

test('64 clients on --parallel 8 all complete, or get 503 beyond the queue; no slot starves', async () => {
  const { url, openai } = await start({ parallel: 8, queueSize: 16 });
  const outcomes = await Promise.allSettled(Array.from({ length: 64 }, (_, index) =>
    openai.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: questions[index % 4]! }],
      max_tokens: 4 })));
  const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
  for (const outcome of refused) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ status: 503 });
  const served = outcomes.length - refused.length;
  // At least the slots and the queue are served; the rest may be refused.
  expect(served).toBeGreaterThanOrEqual(8 + 16);
  const counted = await metrics(url);
  expect(counted.get('amulet_completions_total')).toBe(served);
  expect(counted.get('amulet_http_requests_total{code="503"}') ?? 0).toBe(refused.length);
  expect(counted.get('amulet_requests_queued')).toBe(0);
  expect(counted.get('amulet_generations_running')).toBe(0);
  // The server still answers.
  const after = await openai.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'Hi.' }], max_tokens: 2 });
  expect(after.choices[0]!.finish_reason).toBeDefined();
});

test('a client that leaves stops its rows; the others of its steps go on', async () => {
  const seed = await endlessSeed(model(), 64);
  const { url, openai } = await start({ parallel: 2 });
  const controller = new AbortController();
  const endless = await openai.chat.completions.create({
    model: 'any', messages: [{ role: 'user', content: 'Go.' }], max_tokens: 64, stream: true,
    temperature: ENDLESS_TEMPERATURE, seed,
  }, { signal: controller.signal });
  const other = openai.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'Go.' }],
    max_tokens: 48, temperature: ENDLESS_TEMPERATURE, seed });
  for await (const chunk of endless) {
    if (chunk.choices[0]?.delta.content) break;
  }
  controller.abort();
  const answer = await other;
  expect(answer.choices[0]!.finish_reason).toBe('length');
  expect(answer.usage?.completion_tokens).toBe(48);
  // The left client's generation has ended: nothing runs, no slot is busy.
  for (let counted = await metrics(url); counted.get('amulet_generations_running') !== 0 ||
    counted.get('amulet_slots_busy') !== 0; counted = await metrics(url)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const counted = await metrics(url);
  expect(counted.get('amulet_tokens_generated_total')!).toBeLessThan(64 + 48);
});

test('with --api-key, /metrics and /slots need the key; /health does not', async () => {
  const { url } = await start({ apiKey: 'secret' });
  expect((await fetch(`${url}/metrics`)).status).toBe(401);
  expect((await fetch(`${url}/slots`)).status).toBe(401);
  expect((await fetch(`${url}/metrics`, { headers: { Authorization: 'Bearer secret' } })).status).toBe(200);
  expect((await fetch(`${url}/health`)).status).toBe(200);
});

test('a server whose sequences cannot hold one realigned request refuses it with a 400', async () => {
  const { openai } = await start({ parallel: 1, sequences: 1 });
  await expect(openai.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'Hi.' }],
    max_tokens: 2, preferences: [concise] } as never)).rejects.toMatchObject({ status: 400 });
  const plain = await openai.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'Hi.' }], max_tokens: 2 });
  expect(plain.choices[0]!.finish_reason).toBeDefined();
});
