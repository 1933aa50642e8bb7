/**
 * Streaming: what `session.prompt()` hands back, on both fixture models.
 * Chunks are whole UTF-8 characters and add up to the result; the stream can
 * be awaited or iterated; prompts on one session queue; sessions on one model
 * run concurrently with the same greedy output as sequentially; the per-token
 * trace and the result's fields say what happened.
 */
import {
  guidanceScale,
  type GenerationResult,
  type GenerationStream,
  type PromptOptions,
  type RealignMethod,
  type SessionOptions,
  type TextChunk,
} from '../../lib/index';
import { concurrentThreads, paperPreference, testModels, testThreads } from '../support/models';
import { sessionMaker, useTestModel } from '../support/sessions';
import { TIMED_OUT, within } from '../support/timing';

/** One thread per context: the test machine's cores are shared. */
const threads = testThreads;
const creative = paperPreference('creative');
const concise = paperPreference('concise');

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const nonAsciiPrompts = [
  "Write three emoji and the word 'café' in French, Japanese and Greek.",
  'Translate "good morning, my friend" into Japanese, Chinese, Russian and Greek.',
];

/**
 * User input with emoji (with ZWJ and skin tone), combining marks, control
 * characters and lone surrogates. (A NUL has its own test below.)
 */
const hostilePrompt =
  'Résumé 👩🏽‍💻 🇫🇷 e\u0301 n\u0303 a\u030a \u0007\u001b[31mred\u001b[0m\ttab\r\nline \u007f\u0085\u200b\ufeff ' +
  'lone high \uD83D end, lone low \uDE00 end, reversed \uDE00\uD83D. Repeat the emoji.';

interface Collected {
  chunks: TextChunk[];
  result: GenerationResult;
}

async function collect(stream: GenerationStream): Promise<Collected> {
  const chunks: TextChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { chunks, result: await stream.result };
}

function expectWellFormed(text: string, where: string): void {
  expect({ where, loneSurrogate: LONE_SURROGATE.test(text) }).toEqual({ where, loneSurrogate: false });
  expect({ where, roundTrip: Buffer.from(text, 'utf8').toString('utf8') === text }).toEqual({ where, roundTrip: true });
}

/**
 * Every chunk is well-formed, holds no U+FFFD (a character split between
 * tokens must be held back, not replaced), and the chunks add up to the
 * result. A U+FFFD is tolerated only as the very last character of an answer
 * cut off by maxTokens (see the dedicated test below).
 */
function expectChunksMatchResult({ chunks, result }: Collected, where: string): void {
  chunks.forEach((chunk, index) => expectWellFormed(chunk.text, `${where}, chunk ${index}`));
  expectWellFormed(result.text, `${where}, result`);
  expect(chunks.map((chunk) => chunk.text).join('')).toBe(result.text);
  const body = result.finishReason === 'maxTokens' ? result.text.replace(/\uFFFD$/, '') : result.text;
  expect({ where, text: body, replacementCharacter: body.includes('\uFFFD') })
    .toEqual({ where, text: body, replacementCharacter: false });
  expect(chunks.reduce((count, chunk) => count + chunk.tokens.length, 0)).toBe(result.generatedTokenCount);
}


describe.each(testModels)('streaming on $name', (testModel) => {
  const model = useTestModel(testModel);
  const newSession = sessionMaker(model, { preferences: [creative], contextSize: 512, threads });

  /** Runs one prompt on a fresh session and disposes it. */
  async function runOnce(text: string, options: PromptOptions = {}, session: SessionOptions = {}): Promise<Collected> {
    const fresh = newSession(session);
    try {
      return await collect(fresh.prompt(text, { maxTokens: 16, ...options }));
    } finally {
      await fresh.dispose();
    }
  }

  describe('UTF-8', () => {
    it.each(['amulet', 'base'] as const)('non-ASCII answers stream as whole characters (%s)', async (method) => {
      const session = newSession();
      try {
        for (const prompt of nonAsciiPrompts) {
          const collected = await collect(session.prompt(prompt, { method, maxTokens: 32 }));
          expectChunksMatchResult(collected, `${method}: ${prompt}`);
          session.clearHistory();
        }
      } finally {
        await session.dispose();
      }
    });

    it('a prompt with emoji, combining marks, control characters and lone surrogates does not crash', async () => {
      const session = newSession();
      try {
        for (const method of ['amulet', 'base'] as const) {
          const collected = await collect(session.prompt(hostilePrompt, { method, maxTokens: 24 }));
          expectChunksMatchResult(collected, `${method}: hostile prompt`);
          expect(collected.result.promptTokenCount).toBeGreaterThan(20);
          expect(session.history).toEqual([
            { role: 'user', content: hostilePrompt },
            { role: 'assistant', content: collected.result.text },
          ]);
          session.clearHistory();
        }
        // The same text as a system prompt, a preference and history.
        const hostile = newSession({
          systemPrompt: hostilePrompt,
          preferences: [hostilePrompt],
          history: [{ role: 'user', content: hostilePrompt }, { role: 'assistant', content: hostilePrompt }],
        });
        try {
          expectChunksMatchResult(await collect(hostile.prompt('Hi 👋', { maxTokens: 8 })), 'hostile session');
        } finally {
          await hostile.dispose();
        }
      } finally {
        await session.dispose();
      }
    });

    it('text after a NUL character in the prompt is not silently dropped', async () => {
      // The native layer hands message contents to llama.cpp as C strings.
      const session = newSession();
      try {
        const head = 'Hello there';
        const tail = ' and then a long sentence with many more words that the model has to read as well';
        const { result: short } = await collect(session.prompt(head, { maxTokens: 1, method: 'base' }));
        session.clearHistory();
        const { result: full } = await collect(session.prompt(head + tail, { maxTokens: 1, method: 'base' }));
        session.clearHistory();
        let withNul: GenerationResult | undefined;
        let refused: unknown;
        try {
          withNul = (await collect(session.prompt(`${head}\u0000${tail}`, { maxTokens: 1, method: 'base' }))).result;
        } catch (error) {
          refused = error;
        }
        if (refused !== undefined) {
          // Refusing the NUL outright would be fine too.
          expect(refused).toMatchObject({ code: 'ERR_INVALID_OPTION' });
          return;
        }
        expect(full.promptTokenCount).toBeGreaterThan(short.promptTokenCount + 10);
        expect(withNul!.promptTokenCount).toBeGreaterThan(short.promptTokenCount + 10);
      } finally {
        await session.dispose();
      }
    });

    it('an answer cut off by maxTokens inside a multi-byte character does not end in U+FFFD', async () => {
      // On SmolLM2 the base method answers this with a run of 4-byte emoji
      // (several tokens each), so 32 tokens stop inside one.
      const { chunks, result } = await runOnce(nonAsciiPrompts[0], { method: 'base', maxTokens: 32 });
      expect(chunks.map((chunk) => chunk.text).join('')).toBe(result.text);
      expect({ text: result.text, replacementCharacter: result.text.includes('\uFFFD') })
        .toEqual({ text: result.text, replacementCharacter: false });
    });
  });

  describe('awaiting and iterating', () => {
    const question = 'How do I boil an egg?';

    it('awaiting the stream directly gives the result; iterating then awaiting stream.result gives the same text',
      async () => {
        const awaitedSession = newSession();
        const iteratedSession = newSession();
        try {
          const awaited = await awaitedSession.prompt(question, { maxTokens: 16 });
          expect(awaited.text.length).toBeGreaterThan(0);
          expect(awaited.generatedTokenCount).toBeGreaterThan(0);

          const stream = iteratedSession.prompt(question, { maxTokens: 16 });
          let streamed = '';
          for await (const chunk of stream) streamed += chunk.text;
          const fromResult = await stream.result;
          expect(fromResult.text).toBe(streamed);
          expect(fromResult.text).toBe(awaited.text);
          // Awaiting the stream after iterating it gives that same result.
          expect(await stream).toBe(fromResult);
          expect(awaitedSession.history).toEqual(iteratedSession.history);
        } finally {
          await Promise.all([awaitedSession.dispose(), iteratedSession.dispose()]);
        }
      });

    it('awaiting stream.result alone (neither iterating nor awaiting the stream) gives the result', async () => {
      const session = newSession();
      const stream = session.prompt(question, { maxTokens: 4 });
      try {
        const outcome = await within(stream.result, 15_000, TIMED_OUT);
        expect(outcome === TIMED_OUT ? 'still pending after 15 s' : outcome.generatedTokenCount).toBe(4);
      } finally {
        // Awaiting the stream itself drives it, so the session can be disposed either way.
        await Promise.allSettled([stream]);
        await session.dispose();
      }
    });

    it('a stream nobody reads still ends; iterating it afterwards gives every chunk', async () => {
      const session = newSession();
      try {
        const stream = session.prompt(question, { maxTokens: 8 });
        await stream.settled;
        const collected = await collect(stream);
        expectChunksMatchResult(collected, 'read after it ended');
        expect(collected.chunks.length).toBeGreaterThan(0);
      } finally {
        await session.dispose();
      }
    });

    it('a stream can only be iterated once', async () => {
      const session = newSession();
      try {
        const stream = session.prompt(question, { maxTokens: 4 });
        const iterator = stream[Symbol.asyncIterator]();
        let second: unknown;
        try {
          stream[Symbol.asyncIterator]();
        } catch (error) {
          second = error;
        }
        expect(second).toMatchObject({ name: 'AmuletError', code: 'ERR_BUSY' });
        let text = '';
        for (let step = await iterator.next(); !step.done; step = await iterator.next()) text += step.value.text;
        expect(text).toBe((await stream).text);
      } finally {
        await session.dispose();
      }
    });
  });

  describe('queueing', () => {
    it('two prompts on one session run one after another; the second sees the first exchange', async () => {
      const session = newSession();
      try {
        const question = 'Name a colour.';
        const first = session.prompt(question, { maxTokens: 8 });
        const second = session.prompt(question, { maxTokens: 8 });
        let firstEnded = Infinity;
        let secondStarted = -Infinity;
        const [a, b] = await Promise.all([
          collect(first).then((collected) => {
            firstEnded = performance.now();
            return collected;
          }),
          (async () => {
            const chunks: TextChunk[] = [];
            for await (const chunk of second) {
              if (chunks.length === 0) secondStarted = performance.now();
              chunks.push(chunk);
            }
            return { chunks, result: await second.result };
          })(),
        ]);
        expect(secondStarted).toBeGreaterThanOrEqual(firstEnded);
        expectChunksMatchResult(a, 'first');
        expectChunksMatchResult(b, 'second');
        expect(session.history).toEqual([
          { role: 'user', content: question },
          { role: 'assistant', content: a.result.text },
          { role: 'user', content: question },
          { role: 'assistant', content: b.result.text },
        ]);
        // The second prompt carries the first question and answer before its own question.
        expect(b.result.promptTokenCount).toBeGreaterThan(a.result.promptTokenCount + a.result.generatedTokenCount);
      } finally {
        await session.dispose();
      }
    });

    it('a prompt queued behind one that nobody consumes still completes when awaited', async () => {
      const session = newSession();
      const first = session.prompt('Name a fruit.', { maxTokens: 8 });
      const second = session.prompt('Name a colour.', { maxTokens: 8 });
      try {
        const outcome = await within(Promise.resolve(second).then((result) => result.text), 15_000, TIMED_OUT);
        expect({ second: outcome === TIMED_OUT ? 'still pending after 15 s' : 'completed' })
          .toEqual({ second: 'completed' });
      } finally {
        // Consuming the first lets the second run, so the session can be disposed either way.
        await Promise.allSettled([first, second]);
        await session.dispose();
      }
    });
  });

  describe('concurrency', () => {
    it('two sessions on one model run concurrently with the greedy output of a sequential run', async () => {
      const prompts = ['Give me one tip for sleeping well.', 'What is the capital of France?'];
      const options: PromptOptions = { maxTokens: 16 };
      const sequential: string[] = [];
      for (const prompt of prompts) sequential.push((await runOnce(prompt, options, { threads: concurrentThreads })).result.text);

      const sessions = prompts.map(() => newSession({ threads: concurrentThreads }));
      try {
        const concurrent = await Promise.all(sessions.map((session, i) => collect(session.prompt(prompts[i], options))));
        concurrent.forEach((collected, i) => expectChunksMatchResult(collected, `concurrent ${i}`));
        expect(concurrent.map((collected) => collected.result.text)).toEqual(sequential);
      } finally {
        await Promise.all(sessions.map((session) => session.dispose()));
      }
    });
  });

  describe('trace', () => {
    const methods: RealignMethod[] = ['amulet', 'amulet-iterative', 'la', 'pref', 'base'];

    it.each(methods)('method %s: one trace per token, probabilities in [0, 1], KL >= 0', async (method) => {
      const { chunks, result } = await runOnce('Describe the sea in one sentence.', { method, trace: true });
      expect(result.generatedTokenCount).toBeGreaterThan(0);
      const tokens = chunks.flatMap((chunk) => chunk.tokens);
      const traces = chunks.flatMap((chunk) => chunk.traces ?? []);
      for (const chunk of chunks) expect(chunk.traces?.length ?? 0).toBe(chunk.tokens.length);
      expect(traces).toHaveLength(result.generatedTokenCount);
      traces.forEach((trace, i) => {
        expect(trace.token).toBe(tokens[i]);
        for (const p of [trace.baseProbability, trace.preferenceProbability, trace.realignedProbability]) {
          expect(Number.isFinite(p)).toBe(true);
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1);
        }
        expect(Number.isFinite(trace.klDivergence)).toBe(true);
        expect(trace.klDivergence).toBeGreaterThanOrEqual(0);
        // Greedy decoding emits the most likely realigned token.
        expect(trace.realignedToken).toBe(trace.token);
        if (method === 'base') expect(trace.baseToken).toBe(trace.token);
        if (method === 'pref') expect(trace.preferenceToken).toBe(trace.token);
        if (method === 'base') expect(trace.klDivergence).toBeLessThan(1e-3);
      });
    });

    it('without trace: true the chunks carry no traces', async () => {
      const { chunks } = await runOnce('Describe the sea in one sentence.', { maxTokens: 4 });
      expect(chunks.some((chunk) => chunk.traces !== undefined)).toBe(false);
    });
  });

  describe('result fields', () => {
    const prompt = 'Write a long story about a lighthouse keeper.';

    it('amulet with the defaults: maxTokens, token count, guidance scale, shared prefix, 2 sequences',
      async () => {
        const collected = await runOnce(prompt, { maxTokens: 8 });
        const { chunks, result } = collected;
        expectChunksMatchResult(collected, 'amulet');
        expect(result.method).toBe('amulet');
        expect(result.finishReason).toBe('maxTokens');
        expect(result.generatedTokenCount).toBe(8);
        expect(chunks.reduce((count, chunk) => count + chunk.tokens.length, 0)).toBe(8);
        expect(result.guidanceScale).toBeCloseTo(1.5338, 3);
        expect(result.guidanceScale).toBeCloseTo(guidanceScale(), 10);
        // Without a KL budget every token gets the method's scale (held as a float32 per token).
        expect(result.meanGuidanceScale).toBeCloseTo(result.guidanceScale, 5);
        expect(result.sequenceCount).toBe(2);
        expect(result.promptTokenCount).toBeGreaterThan(0);
        expect(result.evaluatedPromptTokenCount).toBeGreaterThanOrEqual(result.promptTokenCount);
        expect(result.evaluatedPromptTokenCount).toBeLessThan(2 * result.promptTokenCount);
        expect(result.tokensPerSecond).toBeGreaterThan(0);
        expect(result.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
        expect(result.promptEvaluationMs).toBeGreaterThanOrEqual(0);
        expect(result.samplerMicrosecondsPerToken).toBeGreaterThan(0);
      });

    it('amulet with two preferences decodes 3 sequences and still evaluates the shared prefix once', async () => {
      const { result: one } = await runOnce(prompt, { maxTokens: 2 }, { preferences: [creative] });
      const { result: two } = await runOnce(prompt, { maxTokens: 4 }, { preferences: [creative, concise] });
      expect(one.sequenceCount).toBe(2);
      expect(two.sequenceCount).toBe(3);
      expect(two.evaluatedPromptTokenCount).toBeLessThan(3 * two.promptTokenCount);
      // The extra preference sequence costs less than a whole prompt: only its own part is evaluated.
      expect(two.evaluatedPromptTokenCount - one.evaluatedPromptTokenCount).toBeLessThan(two.promptTokenCount);
      expect(two.guidanceScale).toBeCloseTo(1.5338, 3);
    });

    it.each([
      ['amulet-iterative', 1.5338, 2],
      ['la', 2, 2],
      ['pref', 0, 1],
      ['base', -1, 1],
    ] as const)('method %s: guidance scale %d, %d sequence(s)', async (method, scale, sequences) => {
      const { result } = await runOnce(prompt, { method, maxTokens: 4 });
      expect(result.method).toBe(method);
      expect(result.finishReason).toBe('maxTokens');
      expect(result.generatedTokenCount).toBe(4);
      expect(result.guidanceScale).toBeCloseTo(scale, 3);
      expect(result.guidanceScale).toBeCloseTo(guidanceScale({ method }), 10);
      expect(result.meanGuidanceScale).toBeCloseTo(result.guidanceScale, 5);
      expect(result.sequenceCount).toBe(sequences);
    });

    it('under a KL budget meanGuidanceScale is the mean of the tokens\' own scales, none above the method\'s', async () => {
      const { chunks, result } = await runOnce(prompt, { maxTokens: 8, klBudget: 0.05, captureLogits: true },
        { preferences: [concise] });
      const scales = chunks.flatMap((chunk) => (chunk.captures ?? []).map((capture) => capture.guidanceScale));
      expect(scales).toHaveLength(result.generatedTokenCount);
      for (const scale of scales) expect(scale).toBeLessThanOrEqual(result.guidanceScale + 1e-6);
      expect(result.meanGuidanceScale).toBeCloseTo(scales.reduce((sum, scale) => sum + scale, 0) / scales.length, 6);
    });

    it("la's ratio sets its guidance scale", async () => {
      const { result } = await runOnce(prompt, { method: 'la', ratio: 0.5, maxTokens: 2 });
      expect(result.guidanceScale).toBeCloseTo(0.5, 10);
    });
  });
});
