import { cleanup } from './cleanup.js';

/** Root hooks: whatever a test opened (servers, sockets, child processes) is closed after it. */
export const mochaHooks = {
  async afterEach(): Promise<void> {
    await cleanup();
  },
};
