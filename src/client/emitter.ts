type Listeners<Events extends { [K in keyof Events]: unknown[] }> = { [K in keyof Events]?: Set<(...args: Events[K]) => void> };

/**
 * A small typed event emitter that runs in browsers and Node alike (node:events does not exist in
 * browsers). Unlike Node's, an `error` without a listener is dropped, not thrown: a chat client
 * should not crash its page over a rate-limit notice.
 */
export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners: Listeners<Events> = {};

  /** Calls `listener` on every `event`; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with on(). */
  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    this.listeners[event]?.delete(listener);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners[event];
    if (set === undefined) return;
    for (const listener of [...set]) listener(...args);
  }
}
