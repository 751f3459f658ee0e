import type { SocketConstructor } from './types.js';

/**
 * The WebSocket to use: the platform's where there is one (browsers, Node 22 and later), else the
 * `ws` package, loaded only then so that browser bundles never need it.
 */
export async function socketConstructor(): Promise<SocketConstructor> {
  const native = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof native === 'function') return native as SocketConstructor;
  const { WebSocket } = await import('ws');
  // ws's event objects carry more fields than SocketLike reads; its handlers take those wider types.
  return WebSocket as unknown as SocketConstructor;
}
