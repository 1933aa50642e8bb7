/**
 * What the model tests share: a model loaded once for a file or a describe
 * block and disposed after it, sessions with the test machine's threads, one
 * prompt on a session of its own, and a trap for promise rejections that
 * nobody handled.
 */
import { runInThisContext } from 'node:vm';
import type { Model, Session, SessionOptions } from '../../lib/index';
import { loadTestModel, testModels, testThreads, type TestModel } from './models';

/**
 * Loads a test model before the tests of the enclosing block and disposes
 * it after them; returns a getter to call inside tests and hooks.
 */
export function useTestModel(testModel: TestModel = testModels[0]!): () => Model {
  let model: Model | undefined;
  beforeAll(async () => {
    model = await loadTestModel(testModel);
  });
  afterAll(async () => {
    await model?.dispose();
  });
  return () => {
    if (model === undefined) throw new Error(`${testModel.name} is not loaded: use the model inside a test or a hook`);
    return model;
  };
}

/** A maker of sessions with these options (the test machine's threads unless they say), overridable per call. */
export function sessionMaker(model: () => Model, defaults: SessionOptions = {}): (options?: SessionOptions) => Session {
  return (options = {}) => model().createSession({ threads: testThreads, ...defaults, ...options });
}

/** Runs `use` on a new session of `model` and disposes the session after it, however it ended. */
export async function withSession<T>(model: Model, options: SessionOptions, use: (session: Session) => Promise<T>):
  Promise<T> {
  const session = model.createSession({ threads: testThreads, ...options });
  try {
    return await use(session);
  } finally {
    await session.dispose();
  }
}

/**
 * Records the promise rejections nobody handled while the enclosing block
 * runs. Jest runs a test file in a vm context whose `process` is a copy:
 * listeners added to it never fire. Code run by vm.runInThisContext sees the
 * host context, whose `process` emits 'unhandledRejection'. (Outside Jest
 * this is simply `process`.)
 */
export function trapUnhandledRejections(): readonly unknown[] {
  const hostProcess = runInThisContext('process') as NodeJS.Process;
  const unhandled: unknown[] = [];
  const record = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    hostProcess.on('unhandledRejection', record);
  });
  afterAll(() => {
    hostProcess.off('unhandledRejection', record);
  });
  return unhandled;
}
