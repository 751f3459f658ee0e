/**
 * The JSON of the HTTP API, as the server writes it and the admin page reads it: both import
 * these, so the two cannot drift apart. Browser-safe.
 */

/** A channel as GET /api/channels lists it. */
export interface ChannelSummary {
  path: string;
  id: string;
  /** Named members. */
  members: number;
  /** Open connections, named or not. */
  connections: number;
  /** The seq of the channel's last message delivered on this node: its rate is how fast this grows. */
  seq: number;
  created: string;
  lastActivity: string;
}

/** A channel as GET /api/channels/{path}/{id} describes it: its members' names in the order they joined. */
export interface ChannelDetail extends Omit<ChannelSummary, 'members'> {
  members: string[];
}
