import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers and Docker engines; two cores do not gain from more workers.
    maxWorkers: 2,
    restoreMocks: true,
  },
});
