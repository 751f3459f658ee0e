// The part of Bun's API the Bun peer (bun.ts) uses. The `bun` package ships the runtime, not its
// types (those are @types/bun); this declares the module 'bun' only, so nothing else sees a Bun global.
declare module 'bun' {
  interface ServerWebSocket<T> {
    data: T;
    /** Bytes sent, -1 when queued under backpressure, 0 when dropped. */
    send(data: string): number;
    /** To every subscriber of the topic but this socket. */
    publish(topic: string, data: string): number;
    subscribe(topic: string): void;
  }

  interface WebSocketHandler<T> {
    perMessageDeflate: boolean;
    open(ws: ServerWebSocket<T>): void;
    message(ws: ServerWebSocket<T>, message: string | Buffer): void;
    close(ws: ServerWebSocket<T>, code: number, reason: string): void;
  }

  interface Server<T> {
    readonly port: number;
    /** WebSocket connections open. */
    readonly pendingWebSockets: number;
    upgrade(request: Request, options: { data: T }): boolean;
    /** To every subscriber of the topic. */
    publish(topic: string, data: string): number;
  }

  interface ServeOptions<T> {
    port: number;
    hostname: string;
    fetch(request: Request, server: Server<T>): Response | undefined;
    websocket: WebSocketHandler<T>;
  }

  export function serve<T>(options: ServeOptions<T>): Server<T>;
  /** Runs the garbage collector; synchronously and fully when `force`. */
  export function gc(force: boolean): void;
}
