// Typed request/response and one-way messages over a Node IPC channel.
// The parent side wraps a ChildProcess; the child side serves handlers on `process`.
import type { ChildProcess } from 'node:child_process';

/** An API maps method names to their parameter and result types. */
export type ApiShape = Record<string, { params: unknown; result: unknown }>;
/** Events a child emits without being asked. */
export type EventShape = Record<string, unknown>;

interface RequestMessage { rpc: 'request'; id: number; method: string; params: unknown }
interface NotifyMessage { rpc: 'notify'; method: string; params: unknown }
interface ReplyMessage { rpc: 'reply'; id: number; ok: boolean; result: unknown; error: string }
interface EventMessage { rpc: 'event'; name: string; data: unknown }
type Message = RequestMessage | NotifyMessage | ReplyMessage | EventMessage;

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && 'rpc' in value;
}

interface Pending { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }

/** Parent side: calls methods on a child and listens to its events. */
export class RpcClient<A extends ApiShape, E extends EventShape> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, (data: unknown) => void>();
  private exited: string | null = null;

  constructor(readonly child: ChildProcess, readonly label: string) {
    child.on('message', (message: unknown) => this.receive(message));
    child.on('exit', (code, signal) => {
      this.exited = `${label} exited (${signal ?? `code ${String(code)}`})`;
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(this.exited));
        this.pending.delete(id);
      }
    });
  }

  get alive(): boolean {
    return this.exited === null;
  }

  call<M extends keyof A & string>(method: M, params: A[M]['params'], timeoutMs = 120_000): Promise<A[M]['result']> {
    if (this.exited !== null) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<A[M]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (value) => resolve(value), reject, timer });
      const message: RequestMessage = { rpc: 'request', id, method, params };
      this.child.send(message);
    });
  }

  /** Fire and forget: the child runs the handler and sends no reply. */
  notify<M extends keyof A & string>(method: M, params: A[M]['params']): void {
    if (this.exited !== null) return;
    const message: NotifyMessage = { rpc: 'notify', method, params };
    this.child.send(message);
  }

  on<N extends keyof E & string>(name: N, listener: (data: E[N]) => void): void {
    this.listeners.set(name, (data) => listener(data as E[N]));
  }

  off(name: keyof E & string): void {
    this.listeners.delete(name);
  }

  /** Resolves with the next `name` event; rejects if the child exits or nothing comes in time. */
  next<N extends keyof E & string>(name: N, timeoutMs: number): Promise<E[N]> {
    if (this.exited !== null) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off(name);
        this.child.off('exit', onExit);
      };
      const onExit = (): void => {
        done();
        reject(new Error(this.exited ?? `${this.label} exited`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.child.once('exit', onExit);
      this.on(name, (data) => {
        done();
        resolve(data);
      });
    });
  }

  private receive(message: unknown): void {
    if (!isMessage(message)) return;
    if (message.rpc === 'reply') {
      const pending = this.pending.get(message.id);
      if (pending === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${this.label}: ${message.error}`));
    } else if (message.rpc === 'event') {
      this.listeners.get(message.name)?.(message.data);
    }
  }
}

export type Handlers<A extends ApiShape> = {
  [M in keyof A]: (params: A[M]['params']) => Promise<A[M]['result']> | A[M]['result'];
};

function send(message: Message): void {
  process.send?.(message);
}

/** Child side: answers the parent's calls. The child exits when the parent goes away. */
export function serveRpc<A extends ApiShape>(handlers: Handlers<A>): void {
  if (process.send === undefined) throw new Error('this file runs as a child process with an IPC channel');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: unknown) => {
    if (!isMessage(message) || (message.rpc !== 'request' && message.rpc !== 'notify')) return;
    const handler = handlers[message.method];
    if (handler === undefined) {
      if (message.rpc === 'request') {
        send({ rpc: 'reply', id: message.id, ok: false, result: null, error: `unknown method ${message.method}` });
      }
      return;
    }
    const reply = (ok: boolean, result: unknown, error: string): void => {
      if (message.rpc === 'request') send({ rpc: 'reply', id: message.id, ok, result, error });
    };
    Promise.resolve()
      .then(() => handler(message.params as A[keyof A]['params']))
      .then(
        (result) => reply(true, result, ''),
        (error: unknown) => reply(false, null, error instanceof Error ? error.message : String(error)),
      );
  });
}

export function emitEvent<E extends EventShape, N extends keyof E & string>(name: N, data: E[N]): void {
  send({ rpc: 'event', name, data });
}
