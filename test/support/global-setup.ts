import { ensureFixtureModel } from './fixtures';
import { testModels } from './models';

/** Fetches (once, then from the cache) the real models the end-to-end tests run on. */
export default async function globalSetup(): Promise<void> {
  for (const model of testModels) await ensureFixtureModel(model.name);
}
