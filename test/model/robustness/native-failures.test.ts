/**
 * Native failures surface as rejected promises with typed errors, and the
 * session that failed keeps working (its KV cache stays consistent).
 *
 * Provoked for real, deterministically:
 * - ERR_CONTEXT_CREATE: 256 preferences make 257 sequences, beyond llama.cpp's
 *   limit of 256; llama_init_from_model fails (before allocating anything).
 * - through the test hook `faultInjection` (lib/session.ts) at a chosen
 *   generation step, after some chunks were streamed: a C++ exception thrown
 *   on the generation thread (ERR_NATIVE), an allocation that cannot succeed
 *   (ERR_NATIVE, "out of memory"), and a llama_decode call that fails on an
 *   invalid batch (ERR_DECODE).
 *
 * Corrupt and truncated model files are covered in test/model/bad-input.test.ts;
 * streamed text being valid UTF-8 that adds up to the result in
 * test/model/streaming.test.ts.
 */
import { AmuletError, type AmuletErrorCode, type PromptOptions, type Session } from '../../../lib/index';
import { ACROSS_SHAPES, acrossShapesRealigned, captureRun, expectAgreementUpToNearTie } from '../../support/agreement';
import { paperPreference, testThreads } from '../../support/models';
import { sessionMaker, useTestModel } from '../../support/sessions';
import { useTestAddon } from '../../support/test-addon';

const setTestHooks = useTestAddon();

const concise = paperPreference('concise');
const question = 'Write a long story about a dragon who learns to cook.';

const model = useTestModel();
const newSession = sessionMaker(model, { preferences: [concise], contextSize: 256, batchSize: 16 });

async function streamUntilFailure(session: Session, options: PromptOptions) {
  const chunks: string[] = [];
  let error: unknown;
  const stream = session.prompt(question, { maxTokens: 32, ...options });
  try {
    for await (const chunk of stream) chunks.push(chunk.text);
  } catch (caught) {
    error = caught;
  }
  let rejection: unknown;
  await stream.result.catch((caught: unknown) => {
    rejection = caught;
  });
  return { chunks, error, rejection };
}

it('256 preferences (257 sequences) fail context creation with ERR_CONTEXT_CREATE; the session then still works', async () => {
  const session = model().createSession({ contextSize: 64, threads: testThreads });
  try {
    const preferences = Array.from({ length: 256 }, (_, i) => `Preference number ${i}.`);
    const error = await session.prompt('Hi.', { maxTokens: 2, preferences }).then(() => undefined, (caught) => caught);
    expect(error).toBeInstanceOf(AmuletError);
    expect(error).toMatchObject({ code: 'ERR_CONTEXT_CREATE', message: expect.stringMatching(/257 sequences.*n_seq_max/) });
    expect(session.history).toEqual([]);
    const result = await session.prompt('Hi.', { maxTokens: 2, preferences: [concise] });
    expect(result.generatedTokenCount).toBeGreaterThan(0);
  } finally {
    await session.dispose();
  }
});

describe.each([
  ['exception', 'ERR_NATIVE', /injected C\+\+ exception/],
  ['allocation', 'ERR_NATIVE', /out of memory/],
  ['decode', 'ERR_DECODE', /llama_decode failed during generation \(status -1\)/],
] as const)('a native %s failure mid-stream', (kind, code: AmuletErrorCode, message) => {
  it(`rejects with ${code} after the chunks before it; the session then answers as before`, async () => {
    const session = newSession();
    const reference = newSession();
    try {
      const expected = await captureRun(reference, question, { maxTokens: 16 });
      setTestHooks({ fault: { kind, atToken: 5 } });
      const { chunks, error, rejection } = await streamUntilFailure(session, {});
      expect(chunks.length).toBeGreaterThan(0);
      // The same context shapes as the reference until the failure: the same text so far.
      expect(expected.result.text.startsWith(chunks.join(''))).toBe(true);
      for (const failure of [error, rejection]) {
        expect(failure).toBeInstanceOf(AmuletError);
        expect(failure).toMatchObject({ code, message: expect.stringMatching(message) });
      }
      expect(session.history).toEqual([]);
      // The cache of the failed turn is reused, minus what the failure left out: the answer of a fresh
      // session, up to the rounding of the other batch shapes.
      const after = await captureRun(session, question, { maxTokens: 16 });
      expectAgreementUpToNearTie(after, expected, acrossShapesRealigned(after.result.guidanceScale), ACROSS_SHAPES);
      expect(after.result.reusedPromptTokenCount).toBeGreaterThan(0);
    } finally {
      await Promise.all([session.dispose(), reference.dispose()]);
    }
  });
});

it('the fault hook itself validates its argument', () => {
  expect(() => setTestHooks({ fault: { kind: 'segfault' as 'decode', atToken: 1 } }))
    .toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
});
