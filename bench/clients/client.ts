// What every load-generating client offers the worker, and the rooms protocol's client side.
import type { MemberSpec, Proto } from '../lib/api.js';
import type { Streams } from './tally.js';

export interface Target {
  port: number;
  proto: Proto;
  localAddress: string;
}

export interface BenchClient {
  readonly member: MemberSpec;
  readonly streams: Streams;
  /** True once the connection is gone. */
  readonly closed: boolean;
  /** Resolves once the server has authenticated this member (rooms: the token reply). */
  connect(): Promise<void>;
  publish(message: string): void;
  close(): void;
}

export function channelPath(channel: string): string {
  return `/channel?id=${encodeURIComponent(channel)}`;
}

export function authRequest(user: string): string {
  return JSON.stringify({ event: 'auth', user });
}

export function broadcastRequest(message: string): string {
  return JSON.stringify({ event: 'broadcast', message });
}

/** Reads a server event during authentication: 'token' when done, an Error when refused, null otherwise. */
export function authReply(text: string): 'token' | Error | null {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return new Error(`not JSON during authentication: ${text.slice(0, 80)}`);
  }
  if (typeof event !== 'object' || event === null || !('event' in event)) return null;
  if (event.event === 'token') return 'token';
  if (event.event === 'error') return new Error(`authentication refused: ${text.slice(0, 160)}`);
  return null;
}
