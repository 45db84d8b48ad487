import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Loopback and lab tests spawn real processes; two workers fit a 2-core machine.
    maxWorkers: 2,
  },
});
