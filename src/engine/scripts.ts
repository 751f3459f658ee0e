import { createHash } from 'node:crypto';

/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, which is what makes a seq,
 * its history entry and its publication one step, and a name's admission a single decision.
 * Times come from Redis (TIME), so the nodes' clocks never have to agree. Every script touches the
 * keys of one channel only, which share its hash tag: on a Redis Cluster each runs on the shard
 * that owns the channel, and publishes there with SPUBLISH (sharded Pub/Sub); on one Redis, PUBLISH.
 */
export interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** How a script publishes: PUBLISH on one Redis, SPUBLISH (to the shard of the channel) on a cluster. */
export type Publish = 'PUBLISH' | 'SPUBLISH';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
`;

/**
 * `keep(key, ttl)`: the key lives at least `ttl` ms more. Its expiry is pushed to 1.1 × ttl only
 * once less than ttl is left, so that most calls read it (PTTL) rather than write it: a PEXPIRE per
 * key per message cost about a quarter of the publish script.
 */
const KEEP = `
local function keep(key, ttl)
  ttl = tonumber(ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, math.floor(ttl * 1.1)) end
end
`;

/**
 * `position(seq, epoch, ttl)`: keep() for the seq and epoch keys, together, the seq a second past
 * its epoch: a seq that outlives its epoch is deleted with it (EPOCH), while one that expired first
 * would count from 1 again in the same epoch.
 */
const POSITION = `
local function position(seq, epoch, ttl)
  ttl = tonumber(ttl)
  if redis.call('PTTL', epoch) < ttl or redis.call('PTTL', seq) < ttl then
    redis.call('PEXPIRE', epoch, math.floor(ttl * 1.1))
    redis.call('PEXPIRE', seq, math.floor(ttl * 1.1) + 1000)
  end
end
`;

/** A lost epoch key means the history is lost: start a new epoch with an empty history. */
const EPOCH = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('SET', KEYS[2], epoch, 'PX', ARGV[2])
end
`;

/**
 * A store behind a position someone saw in the same epoch (Redis restarted from an older snapshot
 * or AOF, or failed over to a replica that lagged) would give out seqs again that were already
 * delivered: start a new epoch instead, so that an epoch and a seq never name two messages.
 * ARGV[epochAt], ARGV[seqAt]: the epoch and seq seen ('' and -1 for none). Sets `behind`.
 */
function behind(epochAt: number, seqAt: number): string {
  return `
local behind = 0
if epoch == ARGV[${epochAt}] and tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[${seqAt}]) then
  behind = 1
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('SET', KEYS[2], epoch, 'PX', ARGV[2])
end
`;
}

/** How many ARGV the publish script takes per message, after its 5 common ones. */
const PUBLISH_ARGS = 6;

/**
 * Publishes a batch: the messages one node published in one channel within one tick, in order.
 * KEYS: seq, epoch, log, then each message's seen-key (its dedup key, or any key when it has
 * none). ARGV: new epoch, position ttl, maxlen, history ttl, pubsub channel, then per message:
 * head, tail, route, has-dedup ('1'/'0'), and the epoch and seq its node had seen ('' and -1 for
 * none). Each message gets the next seq, a history entry, and a place in one publication of the
 * whole batch, `p` then per message `SEQ EPOCH LENGTH ROUTE` newline `JSON` (src/engine/wire.ts):
 * one script call, one seq write and one Pub/Sub message for the batch, where each was one per
 * message. Returns per message {epoch, seq, duplicate, behind}, flattened.
 */
const publish = (verb: Publish): Script =>
  script(
    `${KEEP}${POSITION}${EPOCH}
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local counted = false
local out, wire = {}, {'p'}
for i = 0, (#ARGV - 5) / ${PUBLISH_ARGS} - 1 do
  local a = 5 + i * ${PUBLISH_ARGS}
  local behind = 0
  if epoch == ARGV[a + 5] and seq < tonumber(ARGV[a + 6]) then
    behind = 1
    epoch = ARGV[1]
    seq = 0
    redis.call('DEL', KEYS[1], KEYS[3])
    redis.call('SET', KEYS[2], epoch, 'PX', ARGV[2])
  end
  local duplicate = nil
  if ARGV[a + 4] == '1' then
    local prev = redis.call('GET', KEYS[4 + i])
    if prev then
      local e, s = string.match(prev, '^(.*):(%d+)$')
      if e == epoch then duplicate = tonumber(s) end
    end
  end
  if duplicate then
    out[#out + 1] = epoch
    out[#out + 1] = duplicate
    out[#out + 1] = 1
  else
    seq = seq + 1
    counted = true
    local json = ARGV[a + 1] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"' .. ARGV[a + 2]
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], seq .. '-0', 'r', ARGV[a + 3], 'j', json)
    if ARGV[a + 4] == '1' then redis.call('SET', KEYS[4 + i], epoch .. ':' .. seq, 'PX', ARGV[4]) end
    wire[#wire + 1] = seq .. ' ' .. epoch .. ' ' .. #json .. ' ' .. ARGV[a + 3] .. '\\n' .. json
    out[#out + 1] = epoch
    out[#out + 1] = seq
    out[#out + 1] = 0
  end
  out[#out + 1] = behind
end
if counted then redis.call('SET', KEYS[1], seq, 'KEEPTTL') end
position(KEYS[1], KEYS[2], ARGV[2])
keep(KEYS[3], ARGV[4])
if #wire > 1 then redis.call('${verb}', ARGV[5], table.concat(wire)) end
return out`,
  );

/**
 * KEYS: seq, epoch, log. ARGV: new epoch, position ttl, since (-1 for none), epoch of since ('' for
 * none), the epoch and seq a node delivered up to ('' and -1 when a client asks). Returns {epoch,
 * seq, entries, behind}.
 */
const RECOVER = script(
  `${EPOCH}${behind(5, 6)}
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[3])
if since < 0 or since >= seq then return {epoch, seq, {}, behind} end
return {epoch, seq, redis.call('XRANGE', KEYS[3], (since + 1) .. '-0', '+'), behind}`,
);

/**
 * Presence, per channel: the `presence` hash (user -> node|joined, joined in µs) and the `nodes`
 * sorted set of the nodes with members there (node -> its last beat, ms). A node beats every
 * channel it has members in; one silent for longer than `dead after` is removed from the channel,
 * with its members, by the next beat or join of another node there, and finds itself missing at
 * its own next beat or join. Keeping it all per channel keeps every script within one slot.
 */

/**
 * Lua: `remove(presence, node, topic)` removes the names `node` holds, announcing each leave, and
 * `sweep(nodes, presence, topic, deadAfter)` removes every node silent for longer than
 * `deadAfter`, with its names; each returns how many names went. Only one script removes a given
 * node or name, so each leave is announced once.
 */
const presence = (verb: Publish): string => `
local function remove(presence, node, topic)
  local removed = 0
  local all = redis.call('HGETALL', presence)
  for i = 1, #all, 2 do
    if string.match(all[i + 1], '^[^|]*') == node then
      redis.call('HDEL', presence, all[i])
      redis.call('${verb}', topic, 'l' .. all[i])
      removed = removed + 1
    end
  end
  return removed
end
local function sweep(nodes, presence, topic, deadAfter)
  local left = 0
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', now - deadAfter)) do
    redis.call('ZREM', nodes, dead)
    left = left + remove(presence, dead, topic)
  end
  return left
end
`;

/**
 * KEYS: presence hash, channel's nodes zset. ARGV: user, node id, dead after (ms), pubsub channel,
 * presence ttl. Removes the channel's dead nodes first, then returns {1, 0, absent} when
 * admitted, {0, age, 0} when a live node holds the name, age being how long ago that node last
 * beat here; absent is 1 when this node was not among the channel's nodes. Admitting counts as
 * this node's beat in the channel.
 */
const join = (verb: Publish): Script =>
  script(
    `${NOW}${KEEP}${presence(verb)}
sweep(KEYS[2], KEYS[1], ARGV[4], tonumber(ARGV[3]))
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local holder = cur and string.match(cur, '^[^|]*')
if holder and holder ~= ARGV[2] then
  local beat = redis.call('ZSCORE', KEYS[2], holder)
  if beat then return {0, now - tonumber(beat), 0} end
  -- Held by a node the channel does not know (its nodes lost, evicted): that member left, then this one joins.
  redis.call('${verb}', ARGV[4], 'l' .. ARGV[1])
end
local absent = redis.call('ZADD', KEYS[2], now, ARGV[2])
keep(KEYS[2], ARGV[5])
if holder == ARGV[2] then return {1, 0, absent} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%.0f', micros))
keep(KEYS[1], ARGV[5])
redis.call('${verb}', ARGV[4], 'j' .. ARGV[1])
return {1, 0, absent}`,
  );

/** KEYS: presence hash. ARGV: user, node id, pubsub channel. Removes the name if this node holds it. */
const leave = (verb: Publish): Script =>
  script(
    `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.match(cur, '^[^|]*') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('${verb}', ARGV[3], 'l' .. ARGV[1])
end
return 0`,
  );

/** KEYS: presence hash, channel's nodes zset. ARGV: dead after (ms). Returns {user, joined, ...} held by live nodes. */
const MEMBERS = script(
  `${NOW}
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local out = {}
for i = 1, #all, 2 do
  local node, joined = string.match(all[i + 1], '^([^|]*)|(%d+)$')
  local ok = alive[node]
  if ok == nil then
    local beat = redis.call('ZSCORE', KEYS[2], node)
    ok = (beat and tonumber(beat) >= now - tonumber(ARGV[1])) and true or false
    alive[node] = ok
  end
  if ok then
    out[#out + 1] = all[i]
    out[#out + 1] = joined
  end
end
return out`,
);

/**
 * KEYS: for each channel, its nodes zset and presence hash. ARGV: node id, dead after (ms),
 * presence ttl, then each channel's pubsub channel. Records this node's beat in each channel, keeps
 * its presence from expiring, and removes the nodes silent there. Returns, per channel, 1 when this
 * node was not among its nodes (another node removed it as silent, or the keys were lost: its names
 * there are gone), else 0. The channels share a slot on a cluster.
 */
const beat = (verb: Publish): Script =>
  script(
    `${NOW}${KEEP}${presence(verb)}
local out = {}
for c = 1, #KEYS / 2 do
  local nodes, names = KEYS[2 * c - 1], KEYS[2 * c]
  out[c] = redis.call('ZADD', nodes, now, ARGV[1])
  keep(nodes, ARGV[3])
  keep(names, ARGV[3])
  sweep(nodes, names, ARGV[3 + c], tonumber(ARGV[2]))
end
return out`,
  );

/**
 * KEYS: channel's nodes zset, presence hash. ARGV: node id, pubsub channel. A node that leaves a
 * channel (its last member went, or it stops cleanly) removes itself there, and any name it still
 * holds, announcing each leave.
 */
const forget = (verb: Publish): Script =>
  script(
    `${NOW}${presence(verb)}
redis.call('ZREM', KEYS[1], ARGV[1])
return remove(KEYS[2], ARGV[1], ARGV[2])`,
  );

/** The scripts, publishing as `verb` does. */
export function scripts(verb: Publish): { PUBLISH: Script; RECOVER: Script; JOIN: Script; LEAVE: Script; MEMBERS: Script; BEAT: Script; FORGET: Script } {
  return { PUBLISH: publish(verb), RECOVER, JOIN: join(verb), LEAVE: leave(verb), MEMBERS, BEAT: beat(verb), FORGET: forget(verb) };
}
