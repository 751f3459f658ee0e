import type { SocketConstructor, SocketLike } from './types.js';

/** How the server answered an upgrade it refused: its HTTP status and the first line of its reason. */
export interface Refusal {
  status: number;
  /** The response body's first line when it is plain text (rooms says what is wrong there), else ''. */
  line: string;
}

/** The longest reason kept from a refusal's body: enough for any line rooms sends. */
const MAX_LINE = 200;

const refusals = new WeakMap<object, Refusal>();

/**
 * The refusal that closed this socket, known once its close event fires. Only the `ws` path reads
 * one: a browser's WebSocket shows neither the status nor the body.
 */
export function refusalOf(socket: SocketLike): Refusal | undefined {
  return refusals.get(socket);
}

/**
 * The WebSocket to use: the platform's where there is one (browsers, Node 22 and later), else the
 * `ws` package, loaded only then so that browser bundles never need it.
 */
export async function socketConstructor(): Promise<SocketConstructor> {
  const native = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof native === 'function') return native as SocketConstructor;
  const { WebSocket } = await import('ws');
  /** ws's socket, which reads the reason of a refused upgrade before closing. */
  class NodeSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      // Node reports a failure on every address of a name (::1, then 127.0.0.1) as an
      // AggregateError without a message: give it its parts' messages, which name the cause.
      this.on('error', (err) => {
        if (err.message === '' && err instanceof AggregateError) err.message = (err.errors as Error[]).map((e) => e.message).join('; ');
      });
      // With a listener here, ws leaves the refused response to us: read its reason, then close.
      this.once('unexpected-response', (_request, response) => {
        let text = '';
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          refusals.set(this, { status: response.statusCode ?? 0, line: firstLine(text) });
          this.terminate();
        };
        response.on('error', finish);
        if (!/^text\/plain\b/i.test(response.headers['content-type'] ?? '')) return finish();
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\n') || text.length > MAX_LINE) finish();
        });
        response.on('end', finish);
        response.on('close', finish);
      });
    }
  }
  // ws's event objects carry more fields than SocketLike reads; its handlers take those wider types.
  return NodeSocket as unknown as SocketConstructor;
}

/** The first line of a body, without control characters and bounded, to show in one line. */
function firstLine(text: string): string {
  const line = (text.split('\n', 1)[0] ?? '').replace(/\p{Cc}/gu, '').trim();
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}...` : line;
}
