import { ensureAllFixtureModels } from '../../lib/fixtures';

/** Fetches (once, then from the cache) the real models the end-to-end tests run on. */
export default async function globalSetup(): Promise<void> {
  await ensureAllFixtureModels();
}
