type Closer = () => Promise<void> | void;

const closers: Closer[] = [];

/** Registers something to close after the current test, newest first. */
export function onCleanup(close: Closer): void {
  closers.push(close);
}

export async function cleanup(): Promise<void> {
  while (closers.length > 0) await closers.pop()!();
}

/**
 * Opens something a suite's tests share (a Redis Cluster, say), keeping what `open` registers for
 * cleanup apart from the current test's: call the returned `close` in the suite's `after`.
 */
export async function shared<T>(open: () => Promise<T>): Promise<{ value: T; close: () => Promise<void> }> {
  const mark = closers.length;
  const value = await open();
  const own = closers.splice(mark);
  return {
    value,
    close: async () => {
      while (own.length > 0) await own.pop()!();
    },
  };
}
