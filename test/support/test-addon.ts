/**
 * The test build of the addon (amulet_test.node, built beside amulet.node in
 * a checkout): the shipped addon plus `setTestHooks`, which provokes native
 * failures on purpose and switches on the benchmark's ceiling. A test file
 * that needs it calls {@link useTestAddon} before anything loads the addon.
 */
import { dirname, join, resolve } from 'node:path';
import { nativeBinding } from '../../lib/addon';

/** What `setTestHooks` takes (native/addon/addon_test_hooks.cpp). */
export interface TestHooks {
  /** Makes the next generation that starts fail at its `atToken`-th step. */
  fault?: { kind: 'exception' | 'allocation' | 'decode'; atToken: number };
  /** Realigning generations sample the first preference row as it is. */
  ceiling?: boolean;
  /** Models load their CPU weights without repacking (AMX, interleaved): as an RPC worker's CPU device holds them. */
  plainCpuWeights?: boolean;
}

/** The test twin of the addon the tests run on (AMULET_ADDON, else build/Release). */
export function testAddonPath(): string {
  const addon = process.env['AMULET_ADDON'];
  const folder = addon ? dirname(resolve(addon)) : resolve(__dirname, '..', '..', 'build', 'Release');
  return join(folder, 'amulet_test.node');
}

/** Makes this test file run on the test build; returns its `setTestHooks`. */
export function useTestAddon(): (hooks: TestHooks) => void {
  process.env['AMULET_ADDON'] = testAddonPath();
  return (hooks) => (nativeBinding() as unknown as { setTestHooks(hooks: TestHooks): void }).setTestHooks(hooks);
}
