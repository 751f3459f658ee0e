import { RoomsClient, type ChatMessage, type ClientState, type RoomsClientOptions } from '../../src/client/index.js';
import { onCleanup } from './cleanup.js';

/** A RoomsClient closed after the test, with everything it emitted recorded. */
export interface Recorded {
  client: RoomsClient;
  messages: ChatMessage[];
  states: ClientState[];
  /** Resolves once `count` messages have arrived. */
  received: (count: number) => Promise<ChatMessage[]>;
  /** Resolves with the next state change to `state` (one already reached after `after` counts). */
  reaches: (state: ClientState['state'], after?: number) => Promise<ClientState>;
}

export function roomsClient(url: string, options: RoomsClientOptions): Recorded {
  const client = new RoomsClient(url, options);
  onCleanup(() => client.close());
  const messages: ChatMessage[] = [];
  const states: ClientState[] = [];
  const wake = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...wake]) w();
  };
  client.on('message', (m) => {
    messages.push(m);
    notify();
  });
  client.on('state', (s) => {
    states.push(s);
    notify();
  });
  const until = <T>(check: () => T | undefined): Promise<T> =>
    new Promise((resolve) => {
      const test = (): void => {
        const value = check();
        if (value === undefined) return;
        wake.delete(test);
        resolve(value);
      };
      wake.add(test);
      test();
    });
  return {
    client,
    messages,
    states,
    received: (count) => until(() => (messages.length >= count ? messages.slice(0, count) : undefined)),
    reaches: (state, after = 0) => until(() => states.slice(after).find((s) => s.state === state)),
  };
}
