/**
 * Three projects, one test file at a time (each loads real models and uses
 * every core):
 * - unit: no model (options, CLI parsing, proxies, oracle, downloads, C++ math);
 * - model: the real-model tests, on the addon built for this CPU (build/Release);
 * - model-portable: the real-model tests of the numerics again, on the
 *   portable AVX2 addon the prebuild ships (build-portable/Release), so that a
 *   machine with AVX-512 also runs the code paths most users get.
 */
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }] },
};

/**
 * Model tests whose results depend on the CPU's floating-point path: the
 * portable project runs them on the first fixture model (SmolLM2) alone,
 * whose rows cover the same code paths as Gemma's, at a fifth of the cost.
 */
const numerics = ['oracle', 'decoding', 'backend-sampling', 'sessions', 'batching', 'eval-beam', 'scoring'];

module.exports = {
  maxWorkers: 1,
  testTimeout: 600_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'model', testMatch: ['<rootDir>/test/model/**/*.test.ts'] },
    {
      ...base,
      displayName: 'model-portable',
      testMatch: numerics.map((name) => `<rootDir>/test/model/${name}.test.ts`),
      setupFiles: ['<rootDir>/test/support/portable-addon.ts'],
    },
  ],
};
