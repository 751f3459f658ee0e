type Closer = () => Promise<void> | void;

const closers: Closer[] = [];

/** Registers something to close after the current test, newest first. */
export function onCleanup(close: Closer): void {
  closers.push(close);
}

export async function cleanup(): Promise<void> {
  while (closers.length > 0) await closers.pop()!();
}
