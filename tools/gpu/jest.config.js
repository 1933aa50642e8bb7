/** `npm run test:gpu-pack`: the packed GPU check rehearsed without a GPU (on demand, not in npm test). */
module.exports = {
  rootDir: '../..',
  preset: 'ts-jest',
  testEnvironment: 'node',
  testTimeout: 600_000,
  testMatch: ['<rootDir>/tools/gpu/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }] },
};
