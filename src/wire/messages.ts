/**
 * What travels between the server and its clients, as both sides see it: the server's protocol
 * modules and the client library import these, so the two cannot drift apart. Browser-safe.
 */

/** What a request carries in `id` and its reply in `re`. */
export type RequestId = string | number;

/**
 * The `event` of every frame the server sends. A message published through the HTTP API may carry
 * its own name instead of `message`.
 */
export type ServerEventName = 'token' | 'user_list' | 'message' | 'error' | 'ack' | 'join' | 'leave' | 'refresh' | 'helloworld';

/** A chat message as a member receives it. */
export interface ChatMessage {
  /** The message as its sender gave it: any JSON value. */
  message: unknown;
  /** The sender's name. */
  from: string;
  /** The channel id. */
  channel: string;
  /** Present on a direct message: the names it was sent to, and no one else received it. */
  to?: string[];
  /** Its position in the channel; absent on a local-only delivery made while the cluster store is down. */
  seq?: number;
  /** The channel's history epoch; together with `seq` it is where a resume starts from. */
  epoch?: string;
  /** The server's time, in milliseconds since the epoch. */
  ts: number;
}
