/**
 * Sessions that last: the KV cache of every sequence is kept from turn to
 * turn, so a new turn evaluates only its new tokens; a changed preference
 * rebuilds only its own sequence; a session restored from a saved history
 * answers like the one it was saved from; a conversation that outgrows the
 * context fails clearly or drops its oldest turns; sessions run side by side
 * and prompts on one session queue in order; model loading reports progress.
 *
 * Equality of answers: a continuing session holds its answers' KV entries as
 * generation computed them, one token at a time; a session restored from the
 * history evaluates the same tokens in micro-batches, and llama.cpp's kernels
 * round differently for other batch shapes (on some CPUs by tenths of a nat).
 * So answers are compared with test/support/agreement.ts: the cached and the
 * fresh sequences' logits stay close at every shared position, and the
 * tokens agree up to the first near-tie. Token counts are checked against
 * bounds that hold whatever the answer was.
 */
import { loadModel, type GenerationResult, type PromptOptions, type Session, type SessionOptions } from '../../lib/index';
import { ACROSS_SHAPES, acrossShapesRealigned, captureRun, expectAgreementUpToNearTie, type CapturedRun }
  from '../support/agreement';
import { ensureFixtureModel } from '../support/fixtures';
import { concurrentThreads, paperPreference, testModels, testThreads } from '../support/models';
import { sessionMaker, useTestModel } from '../support/sessions';

const creative = paperPreference('creative');
const concise = paperPreference('concise');
const questions = ['Name a colour.', 'Why that one?', 'Give me another one.', 'Which do you like more?'];

/** The near-tie margin for answers of `method` computed on other batch shapes. */
function shapeTolerance(result: GenerationResult): number {
  return result.method === 'base' || result.method === 'pref' ? ACROSS_SHAPES : acrossShapesRealigned(result.guidanceScale);
}

/** Asserts that two captured answers to the same conversation agree up to their first near-tie. */
function expectSameAnswer(actual: CapturedRun, reference: CapturedRun): void {
  expectAgreementUpToNearTie(actual, reference, shapeTolerance(actual.result), ACROSS_SHAPES);
}

/** Asks with logits captured (see test/support/agreement.ts). */
function ask(session: Session, text: string, options: PromptOptions = {}): Promise<CapturedRun> {
  return captureRun(session, text, options);
}

function figures(label: string, results: GenerationResult[]): string {
  return `${label}: ` + results.map((result, turn) =>
    `turn ${turn + 1}: prompt ${result.promptTokenCount}, evaluated ${result.evaluatedPromptTokenCount}, ` +
    `reused ${result.reusedPromptTokenCount}, generated ${result.generatedTokenCount}`).join('; ');
}

describe.each(testModels)('sessions on $name', (testModel) => {
  const model = useTestModel(testModel);
  const newSession = sessionMaker(model, { preferences: [creative], contextSize: 1024, batchSize: 16 });

  it('a later turn evaluates only its new tokens, on every sequence', async () => {
    const session = newSession();
    try {
      const results: GenerationResult[] = [];
      for (const question of questions.slice(0, 3)) results.push(await session.prompt(question, { maxTokens: 16 }));
      console.log(figures(`${testModel.name}, amulet, 2 sequences`, results));
      const [first, second, third] = results;
      // Turn 1: a fresh context; the system prompt the two sequences share is evaluated once.
      expect(first.reusedPromptTokenCount).toBe(0);
      expect(first.evaluatedPromptTokenCount).toBeGreaterThanOrEqual(first.promptTokenCount);
      for (const [previous, result] of [[first, second], [second, third]]) {
        expect(result.reusedPromptTokenCount).toBeGreaterThan(0);
        // What is new on each sequence: the previous answer's end, the new question, the template's markers.
        // At most all of it is evaluated; at least what follows the tokens the cache holds (the answer as
        // decoded: without its last token, which was sampled but never decoded when maxTokens stopped it),
        // exactly that when the answer's text re-tokenises to the tokens generated.
        const newTokens = result.promptTokenCount - previous.promptTokenCount;
        const decoded = previous.finishReason === 'maxTokens' ? previous.generatedTokenCount - 1 : previous.generatedTokenCount;
        expect(result.evaluatedPromptTokenCount).toBeLessThanOrEqual(2 * newTokens);
        expect(result.evaluatedPromptTokenCount).toBeGreaterThanOrEqual(2 * (newTokens - decoded));
      }
      // From the third turn on the saving holds on both models: far less than one sequence's whole prompt.
      expect(third.evaluatedPromptTokenCount).toBeLessThan(third.promptTokenCount / 2);
    } finally {
      await session.dispose();
    }
  });

  it('a session restored from a saved history gives the answer of the session it was saved from', async () => {
    const original = newSession();
    let restored: ReturnType<typeof newSession> | undefined;
    try {
      await original.prompt(questions[0], { maxTokens: 12 });
      await original.prompt(questions[1], { maxTokens: 12 });
      const saved = JSON.parse(JSON.stringify(original.history)) as typeof original.history;
      restored = newSession({ history: saved });
      expect(restored.history).toEqual(original.history);
      const continued = await ask(original, questions[2], { maxTokens: 12 });
      const fromHistory = await ask(restored, questions[2], { maxTokens: 12 });
      expectSameAnswer(continued, fromHistory);
      console.log(`${testModel.name}: continuing evaluates ${continued.result.evaluatedPromptTokenCount} prompt tokens, ` +
        `a restored session ${fromHistory.result.evaluatedPromptTokenCount}; same answer: ` +
        `${continued.result.text === fromHistory.result.text}`);
      expect(fromHistory.result.promptTokenCount).toBe(continued.result.promptTokenCount);
      expect(fromHistory.result.reusedPromptTokenCount).toBe(0);
      expect(fromHistory.result.evaluatedPromptTokenCount).toBeGreaterThanOrEqual(fromHistory.result.promptTokenCount);
      expect(continued.result.evaluatedPromptTokenCount).toBeLessThan(fromHistory.result.evaluatedPromptTokenCount / 2);
      // The restored session reuses its own cache from then on.
      const next = await restored.prompt(questions[3], { maxTokens: 4 });
      expect(next.reusedPromptTokenCount).toBeGreaterThan(fromHistory.result.promptTokenCount);
    } finally {
      await Promise.all([original.dispose(), restored?.dispose()]);
    }
  });

  it("method 'base' (one sequence): each turn reuses the cache and answers like a restored session", async () => {
    const session = newSession({ method: 'base' });
    try {
      for (const [turn, question] of questions.slice(0, 3).entries()) {
        const restored = newSession({ method: 'base', history: session.history });
        try {
          const continued = await ask(session, question, { maxTokens: 12 });
          const reference = await ask(restored, question, { maxTokens: 12 });
          expect(continued.result.sequenceCount).toBe(1);
          expect(continued.result.promptTokenCount).toBe(reference.result.promptTokenCount);
          if (turn > 0) {
            expect(continued.result.evaluatedPromptTokenCount).toBeLessThan(reference.result.evaluatedPromptTokenCount);
          }
          expectSameAnswer(continued, reference);
        } finally {
          await restored.dispose();
        }
      }
    } finally {
      await session.dispose();
    }
  });
});

describe('changing what a session decodes between turns (SmolLM2)', () => {
  const model = useTestModel();
  const newSession = sessionMaker(model, { preferences: [creative], contextSize: 1024, batchSize: 16 });

  /** The answer of a fresh session restored from `session`'s history, with other options. */
  async function reference(history: SessionOptions['history'], question: string, options: SessionOptions & { maxTokens?: number }) {
    const { maxTokens = 12, ...sessionOptions } = options;
    const fresh = newSession({ history, ...sessionOptions });
    try {
      return await ask(fresh, question, { maxTokens });
    } finally {
      await fresh.dispose();
    }
  }

  it('setPreferences: only the changed preference sequence is rebuilt; the answer is that of a fresh session', async () => {
    const session = newSession();
    try {
      await session.prompt(questions[0], { maxTokens: 12 });
      const before = await session.prompt(questions[1], { maxTokens: 12 });
      const history = session.history;
      session.setPreferences([concise]);
      const changedRun = await ask(session, questions[2], { maxTokens: 12 });
      const freshRun = await reference(history, questions[2], { preferences: [concise] });
      const [changed, fresh] = [changedRun.result, freshRun.result];
      console.log(`setPreferences: evaluated ${changed.evaluatedPromptTokenCount} (reused ${changed.reusedPromptTokenCount}), ` +
        `a fresh session ${fresh.evaluatedPromptTokenCount}; prompt ${changed.promptTokenCount}`);
      expectSameAnswer(changedRun, freshRun);
      // The base sequence evaluates only the new exchange; the preference sequence its whole prompt,
      // less the start it shares with the old preference ("...assistant. Your answer should be").
      const newTokens = changed.promptTokenCount - before.promptTokenCount;
      expect(changed.evaluatedPromptTokenCount).toBeLessThanOrEqual(changed.promptTokenCount + newTokens);
      expect(changed.evaluatedPromptTokenCount).toBeLessThan(fresh.evaluatedPromptTokenCount);
      expect(changed.reusedPromptTokenCount).toBeGreaterThan(before.promptTokenCount);
      // The turn after that is cheap again.
      const after = await session.prompt(questions[3], { maxTokens: 12 });
      expect(after.evaluatedPromptTokenCount).toBeLessThan(after.promptTokenCount / 2);
    } finally {
      await session.dispose();
    }
  });

  it('per-prompt preferences and methods: more sequences recreate the context, fewer reuse it', async () => {
    const session = newSession();
    try {
      await session.prompt(questions[0], { maxTokens: 12 });
      // Three sequences on a context made for two: recreated, everything evaluated again.
      let history = session.history;
      const three = await ask(session, questions[1], { maxTokens: 12, preferences: [creative, concise] });
      expect(three.result.sequenceCount).toBe(3);
      expect(three.result.reusedPromptTokenCount).toBe(0);
      expectSameAnswer(three, await reference(history, questions[1], { preferences: [creative, concise] }));
      // Back to two: the context keeps its three sequences; base and 'creative' continue where they were.
      history = session.history;
      const two = await ask(session, questions[2], { maxTokens: 12 });
      expect(two.result.sequenceCount).toBe(2);
      expect(two.result.evaluatedPromptTokenCount).toBeLessThan(two.result.promptTokenCount / 2);
      expectSameAnswer(two, await reference(history, questions[2], {}));
      // One sequence ('base'), then 'pref' (the prompt with the preference): each continues its own sequence.
      history = session.history;
      const base = await ask(session, questions[3], { maxTokens: 12, method: 'base' });
      expect(base.result.sequenceCount).toBe(1);
      expect(base.result.evaluatedPromptTokenCount).toBeLessThan(base.result.promptTokenCount / 2);
      expectSameAnswer(base, await reference(history, questions[3], { method: 'base' }));
      history = session.history;
      const pref = await ask(session, 'Thanks!', { maxTokens: 12, method: 'pref' });
      expect(pref.result.sequenceCount).toBe(1);
      expectSameAnswer(pref, await reference(history, 'Thanks!', { method: 'pref' }));
      // 'pref' left the base sequence behind by one exchange: it catches up, not more.
      const amulet = await session.prompt('Bye.', { maxTokens: 4 });
      expect(amulet.evaluatedPromptTokenCount).toBeLessThan(amulet.promptTokenCount);
    } finally {
      await session.dispose();
    }
  });

  it('setHistory switches conversations; coming back evaluates only what the cache lacks, and answers as a fresh session', async () => {
    const session = newSession({ method: 'base' });
    try {
      await session.prompt(questions[0], { maxTokens: 12 });
      const first = session.history;
      // Another conversation on the same session, then back to the first.
      session.setHistory([]);
      await session.prompt('Name an animal.', { maxTokens: 12 });
      expect(session.history.map((message) => message.content)).toContain('Name an animal.');
      session.setHistory(first);
      expect(session.history).toEqual(first);
      const resumedRun = await ask(session, questions[1], { maxTokens: 12 });
      const freshRun = await reference(first, questions[1], { method: 'base' });
      expectSameAnswer(resumedRun, freshRun);
      const resumed = resumedRun.result;
      expect(resumed.promptTokenCount).toBe(freshRun.result.promptTokenCount);
      // The system prompt and the chat template's opening are still cached; the rest is evaluated again.
      expect(resumed.reusedPromptTokenCount).toBeGreaterThan(0);
      expect(resumed.evaluatedPromptTokenCount).toBe(resumed.promptTokenCount - resumed.reusedPromptTokenCount);
      expect(session.history).toEqual([...first, { role: 'user', content: questions[1] },
        { role: 'assistant', content: resumed.text }]);
    } finally {
      await session.dispose();
    }
  });

  it('setHistory checks the messages like the history option, and leaves the history unchanged on a bad one', async () => {
    const session = newSession();
    session.setHistory([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }]);
    const before = session.history;
    const bad: unknown[] = [undefined, 'text', [{ role: 'system', content: 'x' }], [{ role: 'user', content: 3 }], [null]];
    for (const history of bad) {
      expect(() => session.setHistory(history as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
    expect(session.history).toEqual(before);
    await session.dispose();
    expect(() => session.setHistory([])).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it("a prompt's systemPrompt applies to that prompt only, as a session made with it would answer", async () => {
    const system = 'You are a pirate. Answer like one.';
    const session = newSession();
    try {
      const own = await session.prompt(questions[0], { maxTokens: 12, systemPrompt: system });
      const made = newSession({ systemPrompt: system });
      try {
        const reference = await made.prompt(questions[0], { maxTokens: 12 });
        expect(own.text).toBe(reference.text);
        expect(own.promptTokenCount).toBe(reference.promptTokenCount);
      } finally {
        await made.dispose();
      }
      // The next prompt is back on the session's system prompt.
      session.clearHistory();
      const plain = await session.prompt(questions[0], { maxTokens: 12 });
      expect(plain.promptTokenCount).toBeLessThan(own.promptTokenCount);
      expect(() => session.prompt('x', { systemPrompt: 3 as never })).toThrow(/systemPrompt must be a string/);
    } finally {
      await session.dispose();
    }
  });

  it('clearHistory starts over but keeps the system prompt in the cache', async () => {
    const session = newSession();
    try {
      const first = await ask(session, questions[0], { maxTokens: 8 });
      session.clearHistory();
      const again = await ask(session, questions[0], { maxTokens: 8 });
      expectSameAnswer(again, first);
      expect(again.result.promptTokenCount).toBe(first.result.promptTokenCount);
      // The whole previous prompt is still there: only the last token of each sequence is evaluated again.
      expect(again.result.evaluatedPromptTokenCount).toBe(2);
      expect(session.history).toHaveLength(2);
    } finally {
      await session.dispose();
    }
  });
});

describe('a conversation that outgrows the context (SmolLM2)', () => {
  const model = useTestModel();

  const systemPrompt = 'You are a helpful assistant who answers every question about colours with great care.';

  it("contextOverflow 'error' (default): the prompt that does not fit fails with ERR_CONTEXT_FULL, history unchanged",
    async () => {
      const session = model().createSession({ systemPrompt, preferences: [creative], contextSize: 160, threads: testThreads });
      try {
        let failure: unknown;
        let turns = 0;
        for (; turns < 20 && failure === undefined; turns++) {
          const before = session.history;
          try {
            await session.prompt(`Question number ${turns}: what colour is the sky at dusk?`, { maxTokens: 16 });
          } catch (error) {
            failure = error;
            expect(session.history).toEqual(before);
          }
        }
        expect(failure).toMatchObject({ name: 'AmuletError', code: 'ERR_CONTEXT_FULL' });
        expect((failure as Error).message).toMatch(/prompt has \d+ tokens but the context holds 160/);
        expect(turns).toBeGreaterThan(1);
        session.clearHistory();
        expect((await session.prompt('Hi.', { maxTokens: 4 })).generatedTokenCount).toBeGreaterThan(0);
      } finally {
        await session.dispose();
      }
    });

  it("contextOverflow 'dropOldestTurns': the oldest exchanges go, the system prompt stays, the conversation goes on",
    async () => {
      const options: SessionOptions = {
        systemPrompt, preferences: [creative], contextSize: 160, batchSize: 16, threads: testThreads,
        contextOverflow: 'dropOldestTurns',
      };
      const session = model().createSession(options);
      try {
        const drops: number[] = [];
        for (let turn = 0; turn < 10; turn++) {
          const history = session.history;
          const question = `Question number ${turn}: what colour is the sky at dusk?`;
          const run = await ask(session, question, { maxTokens: 16 });
          const { result } = run;
          drops.push(result.droppedMessageCount);
          expect(result.promptTokenCount + 1).toBeLessThanOrEqual(160);
          const kept = session.history;
          expect(kept.slice(0, -2)).toEqual(history.slice(result.droppedMessageCount));
          expect(kept.at(-2)).toEqual({ role: 'user', content: question });
          expect(kept[0].role).toBe('user');
          if (result.droppedMessageCount > 0) {
            // Exactly what a fresh session with the same system prompt and the kept history decodes.
            const fresh = model().createSession({ ...options, history: kept.slice(0, -2) });
            try {
              const reference = await ask(fresh, question, { maxTokens: 16 });
              expect(reference.result.droppedMessageCount).toBe(0);
              expect(reference.result.promptTokenCount).toBe(result.promptTokenCount);
              expectSameAnswer(run, reference);
            } finally {
              await fresh.dispose();
            }
          }
        }
        console.log(`dropOldestTurns, contextSize 160: messages dropped per turn ${drops.join(' ')}`);
        expect(drops.some((dropped) => dropped > 0)).toBe(true);
        expect(drops.every((dropped) => dropped % 2 === 0)).toBe(true);
        // A message that cannot fit even alone still fails, with the same typed error.
        const huge = 'word '.repeat(400);
        await expect(session.prompt(huge, { maxTokens: 4 })).rejects.toMatchObject({ code: 'ERR_CONTEXT_FULL' });
      } finally {
        await session.dispose();
      }
    });

  it('rejects an unknown contextOverflow policy', () => {
    expect(() => model().createSession({ contextOverflow: 'shift' as never }))
      .toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/contextOverflow/) }));
  });
});

describe('several sessions and queued prompts (SmolLM2)', () => {
  const model = useTestModel();
  const newSession = sessionMaker(model, { preferences: [creative], contextSize: 512, threads: concurrentThreads });

  it('three sessions on one model run at the same time, each with its own context and conversation', async () => {
    const conversations = [
      ['Name a fruit.', 'What colour is it?'],
      ['Name an animal.', 'Where does it live?'],
      ['Name a city.', 'What is it famous for?'],
    ];
    const sequential: string[][] = [];
    for (const conversation of conversations) {
      const session = newSession();
      const answers: string[] = [];
      for (const question of conversation) answers.push((await session.prompt(question, { maxTokens: 12 })).text);
      sequential.push(answers);
      await session.dispose();
    }
    const sessions = conversations.map(() => newSession());
    try {
      const running = new Set<number>();
      let overlap = 0;
      const concurrent = await Promise.all(sessions.map(async (session, i) => {
        const answers: string[] = [];
        for (const question of conversations[i]) {
          let text = '';
          for await (const chunk of session.prompt(question, { maxTokens: 12 })) {
            running.add(i);
            overlap = Math.max(overlap, running.size);
            text += chunk.text;
          }
          running.delete(i);
          answers.push(text);
        }
        return answers;
      }));
      expect(concurrent).toEqual(sequential);
      expect(overlap).toBeGreaterThan(1);
      sessions.forEach((session, i) => expect(session.history.map((message) => message.content))
        .toEqual(conversations[i].flatMap((question, turn) => [question, concurrent[i][turn]])));
    } finally {
      await Promise.all(sessions.map((session) => session.dispose()));
    }
  });

  it('a queued prompt that is aborted rejects with ERR_ABORTED at once, and the session goes on', async () => {
    const session = newSession();
    try {
      const first = session.prompt('Name a fruit.', { maxTokens: 16 });
      const second = session.prompt('Name a colour.', { maxTokens: 8 });
      let firstSettled = false;
      void first.settled.then(() => {
        firstSettled = true;
      });
      second.abort();
      await expect(second.result).rejects.toMatchObject({ name: 'AmuletError', code: 'ERR_ABORTED' });
      // It did not wait for the prompt before it: that one needs the decode thread, so it cannot have ended yet.
      expect(firstSettled).toBe(false);
      const third = session.prompt('Name a city.', { maxTokens: 8 });
      const [a, c] = await Promise.all([first, third]);
      expect(session.history.map((message) => message.content)).toEqual(['Name a fruit.', a.text, 'Name a city.', c.text]);
    } finally {
      await session.dispose();
    }
  });

  it('prompts made while one runs are queued and run in call order; an aborted one is skipped', async () => {
    const session = newSession();
    try {
      const events: string[] = [];
      const controller = new AbortController();
      const track = async (name: string, stream: ReturnType<typeof session.prompt>) => {
        let started = false;
        try {
          for await (const chunk of stream) {
            if (!started) events.push(`${name} first chunk`);
            started = true;
            void chunk;
          }
          events.push(`${name} done`);
        } catch (error) {
          events.push(`${name} ${(error as { code?: string }).code}`);
        }
      };
      const first = session.prompt('Name a fruit.', { maxTokens: 8 });
      const second = session.prompt('Name a colour.', { maxTokens: 8, signal: controller.signal });
      const third = session.prompt('Name a city.', { maxTokens: 8 });
      controller.abort();
      // Consumed in reverse order: the order they run in is still the order they were made in.
      await Promise.all([track('third', third), track('second', second), track('first', first)]);
      expect(events.filter((event) => !event.startsWith('second'))).toEqual([
        'first first chunk', 'first done', 'third first chunk', 'third done',
      ]);
      expect(events).toContain('second ERR_ABORTED');
      expect(session.history.map((message) => message.content)).toEqual([
        'Name a fruit.', (await first).text, 'Name a city.', (await third).text,
      ]);
      // The third prompt saw the first exchange and reused it.
      expect((await third).reusedPromptTokenCount).toBeGreaterThan((await first).promptTokenCount);
    } finally {
      await session.dispose();
    }
  });
});

describe('loading a model reports progress', () => {
  it('onProgress is called with non-decreasing fractions in [0, 1] ending at 1, all before the promise resolves', async () => {
    const path = await ensureFixtureModel(testModels[0].name);
    const fractions: number[] = [];
    const model = await loadModel({ path, onProgress: (fraction) => fractions.push(fraction) });
    const seenAtResolve = fractions.length;
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fractions.length).toBe(seenAtResolve);
      expect(fractions.length).toBeGreaterThan(2);
      for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]);
      expect(fractions[0]).toBeGreaterThanOrEqual(0);
      expect(fractions.at(-1)).toBe(1);
    } finally {
      await model.dispose();
    }
  });

  it('a throwing progress callback does not break loading', async () => {
    const path = await ensureFixtureModel(testModels[0].name);
    const model = await loadModel({ path, onProgress: () => { throw new Error('boom'); } });
    await model.dispose();
  });
});
