/**
 * The OpenAI-compatible server on the SmolLM2 fixture, through clients
 * nobody here wrote: the official `openai` package (completions, streams,
 * the extension fields as extra body fields, models, errors) and `curl`
 * (malformed requests, each with its 4xx, the server answering after each).
 * Then the load: requests beyond the slots wait in a bounded queue and those
 * beyond it get 503; a client that leaves stops its generation and frees its
 * slot; a conversation's second turn finds its cache; close() stops
 * everything; and `amulet serve` runs, serves and stops on a signal.
 *
 * Requests that must still be running when the test acts decode at a
 * temperature of 1e30 with a seed found beforehand (test/support/endless-seed.ts),
 * so they cannot end by themselves within their token budget.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import OpenAI from 'openai';
import {
  createServer,
  type AmuletServer,
  type GenerationStream,
  type ServerOptions,
  type ServerRequestRecord,
} from '../../lib/index';
import { compileCli, runCli } from '../support/cli-process';
import { endlessSeed, ENDLESS_TEMPERATURE } from '../support/endless-seed';
import { ensureFixtureModel } from '../support/fixtures';
import { testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const smollm = { name: 'smollm2-135m-instruct' } as const;
const model = useTestModel(smollm);
let modelPath: string;

beforeAll(async () => {
  modelPath = await ensureFixtureModel(smollm.name);
});

/** A server on a free port with the records of the requests it finished. */
interface TestServer {
  server: AmuletServer;
  url: string;
  records: ServerRequestRecord[];
  /** Resolves with the record of the next request that ends and matches. */
  nextRecord: (match: (record: ServerRequestRecord) => boolean) => Promise<ServerRequestRecord>;
}

async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const records: ServerRequestRecord[] = [];
  const waiting: { match: (record: ServerRequestRecord) => boolean; resolve: (record: ServerRequestRecord) => void }[] = [];
  const server = createServer(model(), {
    port: 0, threads: testThreads, contextSize: 1024, batchSize: 16, ...options,
    onRequestEnd: (record) => {
      records.push(record);
      for (const waiter of waiting.splice(0)) {
        if (waiter.match(record)) waiter.resolve(record);
        else waiting.push(waiter);
      }
    },
  });
  const url = await server.listen();
  return {
    server, url, records,
    nextRecord: (match) => new Promise((resolve) => waiting.push({ match, resolve })),
  };
}

function client(url: string, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
}

const question = (content: string) => [{ role: 'user' as const, content }];

/** A chat completion body that keeps generating (see {@link endlessSeed}). */
function endlessBody(seed: number, tokens: number, stream: boolean): object {
  return { messages: question('Go.'), temperature: ENDLESS_TEMPERATURE, seed, max_tokens: tokens, stream };
}

/** Posts a body with node:http; resolves once the response has started, with the request to abort it. */
function postRaw(url: string, body: object): Promise<{ request: ClientRequest; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
    request.on('response', (response) => resolve({ request, response }));
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

/** The first token a stream produces. */
async function firstToken(stream: GenerationStream): Promise<number> {
  for await (const chunk of stream) if (chunk.tokens.length > 0) return chunk.tokens[0]!;
  throw new Error('the stream produced no token');
}

/** Resolves with the first piece of a response's body. */
function firstData(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => response.once('data', (data: Buffer) => resolve(data.toString('utf8'))));
}

async function health(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
}

/** Asks /health until `done` holds (the server's state, not a clock, decides). */
async function untilHealth(url: string, done: (status: Record<string, unknown>) => boolean): Promise<void> {
  while (!done(await health(url))) await new Promise((resolve) => setImmediate(resolve));
}

/** What curl got: the status, the headers (lower-cased names) and the body. */
interface CurlReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function curl(args: readonly string[]): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    // Headers, a blank line, the body (JSON: no blank line in it), then the status on a line of its own.
    execFile('curl', ['-sS', '-D', '-', '-w', '\n%{http_code}', ...args], { maxBuffer: 1 << 24 }, (error, stdout) => {
      if (error) return reject(error);
      const statusAt = stdout.lastIndexOf('\n');
      const bodyAt = stdout.lastIndexOf('\r\n\r\n', statusAt);
      const headers: Record<string, string> = {};
      // After a "100 Continue", the last block of headers is the answer's.
      const blocks = stdout.slice(0, bodyAt).split('\r\n\r\n');
      for (const line of blocks[blocks.length - 1]!.split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(stdout.slice(statusAt + 1)), headers, body: stdout.slice(bodyAt + 4, statusAt) });
    });
  });
}

describe('the openai client against createServer', () => {
  let test: TestServer;
  beforeAll(async () => {
    test = await startServer({ parallel: 2, queueSize: 4 });
  });
  afterAll(async () => {
    await test?.server.close();
  });

  it('a completion with its usage and the amulet object; the same request streamed gives the same answer', async () => {
    const openai = client(test.url);
    const request = {
      model: 'any-name', messages: question('Name a colour.'), max_tokens: 12,
      // Fields clients send by habit, accepted and ignored.
      user: 'user-1', store: false, metadata: { team: 'a' },
    };
    const [completion, stream] = await Promise.all([
      openai.chat.completions.create(request),
      openai.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }),
    ]);
    expect(completion).toMatchObject({ object: 'chat.completion', model: 'any-name', id: expect.stringMatching(/^chatcmpl-/) });
    const [choice] = completion.choices;
    expect(choice).toMatchObject({ index: 0, message: { role: 'assistant' } });
    expect(['stop', 'length']).toContain(choice!.finish_reason);
    expect(choice!.message.content!.length).toBeGreaterThan(0);
    const usage = completion.usage!;
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeLessThanOrEqual(12);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect((completion as unknown as { amulet: unknown }).amulet).toEqual({
      method: 'base', guidance_scale: -1, mean_guidance_scale: -1, sequences: 1, reused_prompt_tokens: expect.any(Number),
      evaluated_prompt_tokens: expect.any(Number),
    });

    let text = '';
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const finish = chunks[chunks.length - 2]!;
    expect(finish.choices[0]!.finish_reason).toBe(choice!.finish_reason);
    expect((finish as unknown as { amulet: { method: string } }).amulet.method).toBe('base');
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens });
    expect(text).toBe(choice!.message.content);
  });

  it('sends the extension fields as extra body fields; they set the preferences and the realignment', async () => {
    const openai = client(test.url);
    const extension = { preferences: [{ text: 'Your answer should be concise.', weight: 1 }], amulet: { method: 'la', ratio: 0.5 } };
    const completion = await openai.chat.completions.create({
      model: 'm', messages: question('Name a fruit.'), max_tokens: 6, ...extension,
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    expect((completion as unknown as { amulet: unknown }).amulet).toMatchObject({ method: 'la', guidance_scale: 0.5, sequences: 2 });

    const stream = await openai.chat.completions.create({
      model: 'm', messages: question('Name a fruit.'), max_tokens: 6, stream: true,
      preferences: ['Be enthusiastic.'],
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming);
    const amulet: unknown[] = [];
    for await (const chunk of stream) amulet.push((chunk as unknown as { amulet?: unknown }).amulet);
    expect(amulet.filter((info) => info !== undefined)).toEqual([expect.objectContaining({ method: 'amulet', sequences: 2 })]);
  });

  it('lists and retrieves the model; errors come back as the openai client\'s typed errors', async () => {
    const openai = client(test.url);
    const list = await openai.models.list();
    expect(list.data).toEqual([expect.objectContaining({ id: 'SmolLM2-135M-Instruct.Q4_1.gguf', object: 'model' })]);
    expect((await openai.models.retrieve('SmolLM2-135M-Instruct.Q4_1.gguf')).id).toBe('SmolLM2-135M-Instruct.Q4_1.gguf');
    await expect(openai.models.retrieve('gpt-4')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const refused = await openai.chat.completions.create({ model: 'm', messages: question('Hi'), n: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused).toMatchObject({ status: 400, param: 'n', type: 'invalid_request_error' });
    const noPreference = await openai.chat.completions.create({
      model: 'm', messages: question('Hi'), amulet: { method: 'amulet' },
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming).catch((error: unknown) => error);
    expect(noPreference).toMatchObject({ status: 400, message: expect.stringMatching(/needs at least one preference/) });
  });

  it("a conversation's second turn goes to the slot that holds the first and reports it as cached", async () => {
    const openai = client(test.url);
    const system = { role: 'system' as const, content: 'You answer in one short sentence.' };
    const first = await openai.chat.completions.create({ model: 'm', messages: [system, ...question('Name a colour.')], max_tokens: 8 });
    const firstRecord = test.records[test.records.length - 1]!;
    // Another conversation in between takes the other slot.
    await openai.chat.completions.create({ model: 'm', messages: question('Name a river.'), max_tokens: 4 });
    const second = await openai.chat.completions.create({
      model: 'm', max_tokens: 8,
      messages: [system, ...question('Name a colour.'), { role: 'assistant', content: first.choices[0]!.message.content },
        ...question('Why that one?')],
    });
    const secondRecord = test.records[test.records.length - 1]!;
    expect(secondRecord.completion!.slot).toBe(firstRecord.completion!.slot);
    // The first turn's whole prompt is a prefix of the second's, and was cached.
    const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBeGreaterThanOrEqual(first.usage!.prompt_tokens);
    expect(cached).toBeLessThan(second.usage!.prompt_tokens);
  });
});

describe("constrained decoding: stop, logit_bias, response_format and grammar reach the library's output controls", () => {
  let test: TestServer;
  beforeAll(async () => {
    test = await startServer();
  });
  afterAll(async () => {
    await test?.server.close();
  });

  /** A schema whose answers stay short whatever the model does. */
  const capitalSchema = {
    type: 'object',
    properties: { capital: { type: 'string', enum: ['Paris', 'London', 'Berlin', 'Madrid'] } },
    required: ['capital'],
    additionalProperties: false,
  };
  const capital = question('What is the capital of France? Answer in JSON.');
  // Realigned, with one preference, through the SDK's extra body fields.
  const realigned = { preferences: [{ text: 'Be concise.', weight: 1 }], amulet: { method: 'amulet' } };

  it('stop: the answer ends before the first stop string, with finish_reason stop', async () => {
    const openai = client(test.url);
    const base = { model: 'm', messages: question('Describe the sea in two sentences.'), max_tokens: 24 };
    const plain = (await openai.chat.completions.create(base)).choices[0]!.message.content!;
    const words = plain.split(' ');
    expect(words.length).toBeGreaterThan(3);
    // A stop string taken from the answer itself: its second word, with the space before it.
    const stop = ` ${words[1]}`;
    const stopped = await openai.chat.completions.create({ ...base, stop: ['\u0001never', stop] });
    expect(stopped.choices[0]!.message.content).toBe(plain.slice(0, plain.indexOf(stop)));
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
  });

  it('logit_bias: -100 bans the greedy first token, with base and with amulet', async () => {
    const openai = client(test.url);
    for (const extra of [{}, realigned]) {
      const request = { model: 'm', messages: question('Name a colour.'), max_tokens: 4, ...extra };
      // The first token greedy decoding picks, read through the library on the same conversation.
      const session = model().createSession({ threads: testThreads, contextSize: 1024, batchSize: 16,
        ...('preferences' in extra ? { preferences: realigned.preferences, method: 'amulet' as const } : { method: 'base' as const }) });
      let first: number;
      try {
        first = await firstToken(session.prompt('Name a colour.', { maxTokens: 1 }));
      } finally {
        await session.dispose();
      }
      const plain = (await openai.chat.completions.create(request)).choices[0]!.message.content!;
      const banned = (await openai.chat.completions.create({ ...request, logit_bias: { [first]: -100 } }))
        .choices[0]!.message.content!;
      expect(banned).not.toBe(plain);
    }
  });

  it('response_format json_schema: the answer parses and satisfies the schema; json_object gives an object', async () => {
    const openai = client(test.url);
    for (const extra of [{}, realigned]) {
      const completion = await openai.chat.completions.create({
        model: 'm', messages: capital, max_tokens: 160, ...extra,
        response_format: { type: 'json_schema', json_schema: { name: 'capital', schema: capitalSchema } },
      });
      expect(completion.choices[0]!.finish_reason).toBe('stop');
      const parsed = JSON.parse(completion.choices[0]!.message.content!) as unknown;
      expect(new Ajv().compile(capitalSchema)(parsed)).toBe(true);
    }
    const object = await openai.chat.completions.create({
      model: 'm', messages: capital, max_tokens: 48, response_format: { type: 'json_object' },
    });
    expect(object.choices[0]!.message.content!.trimStart().startsWith('{')).toBe(true);
  });

  it('grammar (an extension field): the answer is a sentence of the GBNF grammar', async () => {
    const openai = client(test.url);
    for (const extra of [{}, realigned]) {
      const completion = await openai.chat.completions.create({
        model: 'm', messages: question('Is the sky blue?'), max_tokens: 8, ...extra, grammar: 'root ::= "yes" | "no"',
      } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      expect(['yes', 'no']).toContain(completion.choices[0]!.message.content);
    }
  });
});

describe('malformed requests through curl', () => {
  let test: TestServer;
  let folder: string;
  beforeAll(async () => {
    test = await startServer({ apiKey: 'secret-key', maxBodyBytes: 64 * 1024 });
    folder = mkdtempSync(join(tmpdir(), 'amulet-server-'));
  });
  afterAll(async () => {
    await test?.server.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const auth = ['-H', 'Authorization: Bearer secret-key'];
  const post = (body: string, extra: string[] = []) =>
    curl([...auth, '-H', 'Content-Type: application/json', '--data-binary', body, ...extra, `${test.url}/v1/chat/completions`]);

  it.each([
    ['bad JSON', () => post('{"messages": ['), 400, 'invalid_json', null],
    ['a wrong type', () => post('{"messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}'), 400, 'invalid_value', 'temperature'],
    ['an unknown field', () => post('{"messages":[{"role":"user","content":"Hi"}],"frobnicate":1}'), 400, 'invalid_value', 'frobnicate'],
    ['n = 2', () => post('{"messages":[{"role":"user","content":"Hi"}],"n":2}'), 400, 'invalid_value', 'n'],
    ['a tool message', () => post('{"messages":[{"role":"user","content":"Hi"},{"role":"tool","content":"x"}]}'), 400,
      'invalid_value', 'messages[1].role'],
    ['a prompt longer than the context', () => post(JSON.stringify({ messages: question('word '.repeat(3000)) })), 400,
      'context_length_exceeded', 'messages'],
    ['a wrong API key', () => curl(['-H', 'Authorization: Bearer wrong', '--data-binary', '{}', `${test.url}/v1/chat/completions`]),
      401, 'invalid_api_key', null],
    ['no API key', () => curl([`${test.url}/v1/models`]), 401, 'invalid_api_key', null],
    ['an unknown route', () => curl([...auth, `${test.url}/v1/embeddings`]), 404, 'not_found', null],
    ['a wrong method', () => curl([...auth, `${test.url}/v1/chat/completions`]), 405, 'method_not_allowed', null],
  ])('%s gets its status in the OpenAI error shape, and the server answers afterwards', async (_, send, status, code, param) => {
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('application/json');
    const body = JSON.parse(reply.body) as { error: Record<string, unknown> };
    expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param, code } });
    expect(body.error.message).not.toMatch(/\n\s+at /);
    if (status === 405) expect(reply.headers.allow).toBe('POST');
    expect((await curl([`${test.url}/health`])).status).toBe(200);
  });

  it('a body over the limit gets 413 (declared or not), and a valid request then succeeds', async () => {
    const big = join(folder, 'big.json');
    writeFileSync(big, JSON.stringify({ messages: question('x'.repeat(100 * 1024)) }));
    const declared = await post(`@${big}`);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ error: { code: 'request_too_large' } });
    const chunked = await post(`@${big}`, ['-H', 'Transfer-Encoding: chunked']);
    expect(chunked.status).toBe(413);
    const ok = await post('{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ object: 'chat.completion' });
  });

  it('the openai client with the key is served; with a wrong one it gets an AuthenticationError', async () => {
    await expect(client(test.url, 'wrong').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await client(test.url, 'secret-key').models.list()).data).toHaveLength(1);
  });
});

describe('load: the queue, clients that leave, closing', () => {
  const budget = 300;
  let seed: number;
  beforeAll(async () => {
    seed = await endlessSeed(model(), budget);
  });

  it('requests beyond --parallel wait in FIFO order; beyond --queue they get 503 with Retry-After; a waiting client that leaves frees its place', async () => {
    const test = await startServer({ parallel: 1, queueSize: 2 });
    try {
      const running = await postRaw(test.url, endlessBody(seed, budget, true));
      await firstData(running.response);
      const waiting = fetch(`${test.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify({ messages: question('Hi'), max_tokens: 2 }),
      });
      await untilHealth(test.url, (status) => status.requests_waiting === 1);
      const leaving = new AbortController();
      const left = fetch(`${test.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify({ messages: question('Hello'), max_tokens: 2 }), signal: leaving.signal,
      }).catch((error: unknown) => error);
      await untilHealth(test.url, (status) => status.requests_waiting === 2);

      const refused = await curl(['--data-binary', JSON.stringify({ messages: question('Hey') }), `${test.url}/v1/chat/completions`]);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'server_overloaded', type: 'server_error' } });

      const leftRecord = test.nextRecord((record) => record.status === 499);
      leaving.abort();
      await left;
      const leftRequest = await leftRecord;
      expect(leftRequest.completion).toBeUndefined();
      expect(leftRequest.error).toBeUndefined();
      expect(await health(test.url)).toMatchObject({ slots_processing: 1, requests_waiting: 1 });

      // The running client leaves: its generation stops and the waiting request gets the slot.
      const runningRecord = test.nextRecord((record) => record.completion?.outcome === 'aborted');
      running.request.destroy();
      expect((await runningRecord).completion).toMatchObject({ slot: 0, stream: true });
      const served = await waiting;
      expect(served.status).toBe(200);
      expect(await served.json()).toMatchObject({ object: 'chat.completion' });
    } finally {
      await test.server.close();
    }
  });

  it('a client that disconnects, streaming or not, aborts its generation at once and frees the slot', async () => {
    const test = await startServer({ parallel: 1 });
    try {
      const streaming = await postRaw(test.url, endlessBody(seed, budget, true));
      await firstData(streaming.response);
      const streamed = test.nextRecord(() => true);
      streaming.request.destroy();
      const record = await streamed;
      expect(record.completion).toMatchObject({ outcome: 'aborted', stream: true });
      expect(record.completion!.completionTokens).toBe(0);
      expect(await health(test.url)).toMatchObject({ slots_processing: 0, requests_waiting: 0 });

      const leaving = new AbortController();
      const plain = fetch(`${test.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify(endlessBody(seed, budget, false)), signal: leaving.signal,
      }).catch((error: unknown) => error);
      await untilHealth(test.url, (status) => status.slots_processing === 1);
      const aborted = test.nextRecord(() => true);
      leaving.abort();
      await plain;
      expect((await aborted).completion).toMatchObject({ outcome: 'aborted', stream: false });

      const next = await client(test.url).chat.completions.create({ model: 'm', messages: question('Hi'), max_tokens: 2 });
      expect(next.choices).toHaveLength(1);
    } finally {
      await test.server.close();
    }
  });

  it('close() aborts the running generation, refuses the waiting request with 503, and frees the slots', async () => {
    const test = await startServer({ parallel: 1 });
    const running = await postRaw(test.url, endlessBody(seed, budget, true));
    await firstData(running.response);
    let streamed = '';
    running.response.setEncoding('utf8').on('data', (text: string) => {
      streamed += text;
    });
    const ended = new Promise((resolve) => running.response.on('close', resolve));
    const waiting = fetch(`${test.url}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify({ messages: question('Hi'), max_tokens: 2 }),
    });
    await untilHealth(test.url, (status) => status.requests_waiting === 1);
    await test.server.close();
    const refused = await waiting;
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'shutting_down' } });
    await ended;
    // The stream ends with an error event, not with [DONE].
    expect(streamed).toMatch(/data: \{"error":\{"message":"the server is shutting down"/);
    expect(streamed).not.toMatch(/\[DONE\]/);
    expect(test.records.find((record) => record.completion?.stream)?.completion?.outcome).toBe('aborted');
    expect(test.server.status()).toMatchObject({ busy: 0, queued: 0 });
    // The model is the caller's: still usable.
    const session = model().createSession({ threads: testThreads, method: 'base' });
    expect((await session.prompt('Hi', { maxTokens: 2 })).generatedTokenCount).toBeGreaterThan(0);
    await session.dispose();
  });
});

describe('amulet serve', () => {
  beforeAll(compileCli);

  it.each(['SIGTERM', 'SIGINT'] as const)('prints its URL, serves with its default preference, and exits 0 on %s', async (signal) => {
    let resolveUrl!: (url: string) => void;
    const listening = new Promise<string>((resolve) => {
      resolveUrl = resolve;
    });
    const { child, outcome } = runCli(['serve', '--model', modelPath, '--port', '0', '--threads', String(testThreads),
      '--context-size', '512', '-p', 'Be concise.', '--alpha', '0.5'], {
      onStdout: ({ stdout }) => {
        const url = /at (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout);
        if (url) resolveUrl(url[1]!);
      },
    });
    const url = await listening;
    const openai = client(url);
    const realigned = await openai.chat.completions.create({ model: 'm', messages: question('Hi'), max_tokens: 2 });
    expect((realigned as unknown as { amulet: { method: string; sequences: number } }).amulet)
      .toMatchObject({ method: 'amulet', sequences: 2 });
    const plain = await openai.chat.completions.create({
      model: 'm', messages: question('Hi'), max_tokens: 2, preferences: [],
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    expect((plain as unknown as { amulet: { method: string } }).amulet.method).toBe('base');
    child.kill(signal);
    const { code, stderr } = await outcome;
    expect(code).toBe(0);
    expect(stderr).toMatch(/POST {2}\/v1\/chat\/completions {2}200 .* slot 0 {2}amulet/);
    expect(stderr).toMatch(/stopping/);
  });

  it.each([
    [['serve', '--port', '70000'], /^amulet: --port must be an integer from 0 to 65535 \(got "70000"\)/],
    [['serve', '--parallel', '0'], /^amulet: --parallel must be an integer from 1 to 64/],
    [['serve', 'extra'], /^amulet: Unexpected argument 'extra'/],
  ])('%j exits 2 with one line', async (args, message) => {
    const { code, stderr } = await runCli(args).outcome;
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('--help documents every server flag', async () => {
    const { code, stdout } = await runCli(['serve', '--help']).outcome;
    expect(code).toBe(0);
    for (const flag of ['--host', '--port', '--parallel', '--queue', '--api-key', '--model-name', '--preference', '--max-tokens']) {
      expect(stdout).toContain(flag);
    }
  });
});
