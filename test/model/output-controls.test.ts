/**
 * What a prompt's answer may be, after the realignment: stop strings, logit
 * biases, a GBNF grammar and a JSON Schema, each with `base`, with `amulet`
 * and one preference, and with `amulet` and two weighted preferences, on
 * SmolLM2 with short answers.
 *
 * A control changes nothing before it takes effect: the runs with and
 * without it decode the same batch shapes, so greedy decoding gives the same
 * tokens up to that point and the answers can be compared exactly.
 */
import Ajv from 'ajv';
import {
  AmuletError,
  type GenerationResult,
  type PromptOptions,
  type Session,
  type SessionOptions,
  type TextChunk,
} from '../../lib/index';
import { paperPreference, testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const question = 'What is the capital of France?';

const configurations: { label: string; options: SessionOptions }[] = [
  { label: 'base', options: { method: 'base' } },
  { label: 'amulet with one preference', options: { method: 'amulet', preferences: [paperPreference('concise')] } },
  {
    label: 'amulet with two weighted preferences',
    options: {
      method: 'amulet',
      preferences: [{ text: paperPreference('concise'), weight: 1 }, { text: paperPreference('creative'), weight: -0.5 }],
    },
  },
];

/** A schema whose answers are short whatever the model does: one enum value, whitespace bounded by the grammar. */
const capitalSchema = {
  type: 'object',
  properties: { capital: { type: 'string', enum: ['Paris', 'London', 'Berlin', 'Madrid'] } },
  required: ['capital'],
  additionalProperties: false,
} as const;

interface Answer {
  result: GenerationResult;
  chunks: TextChunk[];
}

async function answer(session: Session, options: PromptOptions, text = question): Promise<Answer> {
  session.clearHistory();
  const stream = session.prompt(text, options);
  const chunks: TextChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { result: await stream, chunks };
}

/**
 * A stop string made of the end of one chunk and the start of the next
 * (so of two tokens at least), whose first occurrence in the text is there:
 * where it starts, and the tokens up to the one that completes it.
 */
function stopAcrossChunks(chunks: readonly TextChunk[]): { stop: string; at: number; tokens: number } | undefined {
  const text = chunks.map((chunk) => chunk.text).join('');
  let offset = 0;
  let tokens = 0;
  for (let i = 0; i + 1 < chunks.length; i++) {
    offset += chunks[i]!.text.length;
    tokens += chunks[i]!.tokens.length;
    const before = Array.from(chunks[i]!.text).slice(-3).join('');
    const after = Array.from(chunks[i + 1]!.text).slice(0, 3).join('');
    const stop = before + after;
    if (before !== '' && after !== '' && text.indexOf(stop) === offset - before.length) {
      return { stop, at: offset - before.length, tokens: tokens + chunks[i + 1]!.tokens.length };
    }
  }
  return undefined;
}

describe('output controls', () => {
  const model = useTestModel({ name: 'smollm2-135m-instruct' });

  describe.each(configurations)('with $label', ({ options }) => {
    let session: Session;
    beforeAll(() => {
      session = model().createSession({ ...options, contextSize: 1024, threads: testThreads });
    });
    afterAll(async () => {
      await session?.dispose();
    });

    it('stop: ends before a stop string spanning tokens, never showing part of it', async () => {
      const reference = await answer(session, { maxTokens: 32 });
      const found = stopAcrossChunks(reference.chunks);
      expect(found).toBeDefined();
      const { stop, at, tokens } = found!;
      const expected = reference.result.text.slice(0, at);

      const stopped = await answer(session, { maxTokens: 32, stop: ['never appears in it', stop] });
      let shown = '';
      for (const chunk of stopped.chunks) {
        shown += chunk.text;
        // Streamed text is final: always the start of the answer, never a stop string.
        expect(expected.startsWith(shown)).toBe(true);
        expect(chunk.text).not.toContain(stop);
      }
      expect(shown).toBe(expected);
      expect(stopped.result.text).toBe(expected);
      expect(stopped.result.finishReason).toBe('stop');
      expect(stopped.result.stopString).toBe(stop);
      expect(session.history.at(-1)).toEqual({ role: 'assistant', content: expected });
      // Generation stopped at the token that completed the stop string.
      expect(stopped.result.generatedTokenCount).toBe(tokens);
    });

    it('stop: a stop string that never appears changes nothing', async () => {
      const reference = await answer(session, { maxTokens: 12 });
      const unstopped = await answer(session, { maxTokens: 12, stop: ['\u0001never\u0002'] });
      expect(unstopped.result.text).toBe(reference.result.text);
      expect(unstopped.result.stopString).toBeUndefined();
    });

    it.each(['cpu', 'backend'] as const)('logitBias: banning the greedy first token changes it (realignOn %s)', async (realignOn) => {
      const reference = await answer(session, { maxTokens: 4, realignOn });
      const first = reference.chunks[0]!.tokens[0]!;
      const banned = await answer(session, { maxTokens: 4, realignOn, logitBias: { [first]: -Infinity } });
      expect(banned.result.realignedOn).toBe(realignOn);
      expect(banned.chunks.flatMap((chunk) => chunk.tokens)[0]).not.toBe(first);
      // A bias of 0 is no bias.
      const neutral = await answer(session, { maxTokens: 4, realignOn, logitBias: { [first]: 0 } });
      expect(neutral.result.text).toBe(reference.result.text);
    });

    it('grammar: a GBNF grammar of "yes" | "no" yields exactly one of them', async () => {
      const { result } = await answer(session, { maxTokens: 8, grammar: 'root ::= "yes" | "no"', realignOn: 'backend' },
        'Is Paris in France?');
      expect(['yes', 'no']).toContain(result.text);
      expect(result.finishReason).toBe('stop');
      // A grammar matches token texts on the host, whatever was asked.
      expect(result.realignedOn).toBe('cpu');
    });

    it('jsonSchema: the answer parses and validates against the schema', async () => {
      const { result } = await answer(session, { maxTokens: 160, jsonSchema: capitalSchema },
        `${question} Answer in JSON.`);
      expect(result.finishReason).toBe('stop');
      const parsed: unknown = JSON.parse(result.text);
      const validate = new Ajv().compile(capitalSchema);
      expect(validate(parsed)).toBe(true);
    });

    it('jsonSchema: true asks for any JSON object', async () => {
      const { result } = await answer(session, { maxTokens: 48, jsonSchema: true }, `${question} Answer in JSON.`);
      expect(result.text.trimStart().startsWith('{')).toBe(true);
      // Any object is unbounded: only a finished answer is sure to be whole.
      if (result.finishReason === 'stop') expect(JSON.parse(result.text)).toBeInstanceOf(Object);
    });
  });

  describe('bad values', () => {
    let session: Session;
    beforeAll(() => {
      session = model().createSession({ method: 'base', contextSize: 1024, threads: testThreads });
    });
    afterAll(async () => {
      await session?.dispose();
    });

    it.each<[string, PromptOptions]>([
      ['an empty stop string', { stop: [''] }],
      ['too many stop strings', { stop: Array.from({ length: 17 }, (_, index) => `s${index}`) }],
      ['a stop list that is a string', { stop: 'END' as unknown as string[] }],
      ['a token id outside the vocabulary', { logitBias: { 1_000_000: 1 } }],
      ['a negative token id', { logitBias: { [-1]: 1 } }],
      ['a NaN bias', { logitBias: { 5: Number.NaN } }],
      ['a +Infinity bias', { logitBias: { 5: Infinity } }],
      ['a grammar that is not a string', { grammar: 3 as unknown as string }],
      ['a schema that is an array', { jsonSchema: [] as unknown as true }],
      ['grammar and jsonSchema together', { grammar: 'root ::= "a"', jsonSchema: true }],
    ])('%s throws ERR_INVALID_OPTION at once', (_label, options) => {
      expect(() => session.prompt(question, options)).toThrow(AmuletError);
      expect(() => session.prompt(question, options)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    });

    it.each<[string, PromptOptions]>([
      ['GBNF that does not parse', { grammar: 'root ::= undefined-rule' }],
      ['a schema the converter cannot follow', { jsonSchema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } }],
    ])('%s rejects with ERR_INVALID_OPTION, and the session keeps working', async (_label, options) => {
      await session.prompt('Hi.', { maxTokens: 2 });
      const before = session.history;
      await expect(session.prompt(question, { ...options, maxTokens: 4 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
      expect(session.history).toEqual(before);
      const after = await session.prompt(question, { maxTokens: 4 });
      expect(after.generatedTokenCount).toBeGreaterThan(0);
      expect(after.reusedPromptTokenCount).toBeGreaterThan(0);
    });
  });
});
