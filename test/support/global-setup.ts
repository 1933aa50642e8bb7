import { ensureFixtureModel } from './fixtures';
import { testModels } from './models';

/**
 * Fetches (once, then from the cache) the real models the end-to-end tests
 * run on, and makes Vulkan device 0 visible to ggml, so that the Vulkan
 * tests run on Mesa's lavapipe where there is no GPU: ggml's Vulkan backend
 * skips CPU-type devices unless GGML_VK_VISIBLE_DEVICES names them. It is
 * set here, in the process jest's test files run in or are forked from,
 * because a test file's process.env is jest's copy, which native code
 * never reads.
 */
export default async function globalSetup(): Promise<void> {
  process.env['GGML_VK_VISIBLE_DEVICES'] ??= '0';
  for (const model of testModels) await ensureFixtureModel(model.name);
}
