import { createHash } from 'node:crypto';

/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, which is what makes a seq,
 * its history entry and its publication one step, and a name's admission a single decision.
 * Times come from Redis (TIME), so the nodes' clocks never have to agree.
 */
export interface Script {
  lua: string;
  sha: string;
  keys: number;
}

function script(keys: number, lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex'), keys };
}

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
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

/**
 * KEYS: seq, epoch, log, seen-key. ARGV: new epoch, position ttl, head, tail, route, maxlen,
 * history ttl, has-dedup ('1'/'0'), pubsub channel, epoch seen, seq seen. Returns {epoch, seq,
 * duplicate, behind}.
 */
export const PUBLISH = script(
  4,
  `${EPOCH}${behind(10, 11)}
if ARGV[8] == '1' then
  local prev = redis.call('GET', KEYS[4])
  if prev then
    local e, s = string.match(prev, '^(.*):(%d+)$')
    if e == epoch then return {epoch, tonumber(s), 1, behind} end
  end
end
local seq = redis.call('INCR', KEYS[1])
local json = ARGV[3] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"' .. ARGV[4]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], seq .. '-0', 'r', ARGV[5], 'j', json)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
if ARGV[8] == '1' then redis.call('SET', KEYS[4], epoch .. ':' .. seq, 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[9], 'm' .. seq .. ' ' .. epoch .. ' ' .. ARGV[5] .. '\\n' .. json)
return {epoch, seq, 0, behind}`,
);

/**
 * KEYS: seq, epoch, log. ARGV: new epoch, position ttl, since (-1 for none), epoch of since ('' for
 * none), the epoch and seq a node delivered up to ('' and -1 when a client asks). Returns {epoch,
 * seq, entries, behind}.
 */
export const RECOVER = script(
  3,
  `${EPOCH}${behind(5, 6)}
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[3])
if since < 0 or since >= seq then return {epoch, seq, {}, behind} end
return {epoch, seq, redis.call('XRANGE', KEYS[3], (since + 1) .. '-0', '+'), behind}`,
);

/**
 * KEYS: presence hash, nodes zset, this node's channel set. ARGV: user, node id, dead after (ms),
 * pubsub channel, channel key, presence ttl. Returns {1, 0} when admitted, {0, age} when a live
 * node holds the name, age being how long ago that node last beat. A name held by a dead node is
 * taken over, announcing its leave before the join.
 */
export const JOIN = script(
  3,
  `${NOW}
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local node = string.match(cur, '^[^|]*')
  if node == ARGV[2] then return {1, 0} end
  local beat = redis.call('ZSCORE', KEYS[2], node)
  if beat and tonumber(beat) >= now - tonumber(ARGV[3]) then return {0, now - tonumber(beat)} end
  -- Taken over from a dead node before any sweep removed it: its member left, then this one joins.
  redis.call('PUBLISH', ARGV[4], 'l' .. ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%.0f', micros))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[4], 'j' .. ARGV[1])
return {1, 0}`,
);

/** KEYS: presence hash. ARGV: user, node id, pubsub channel. Removes the name if this node holds it. */
export const LEAVE = script(
  1,
  `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.match(cur, '^[^|]*') == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[3], 'l' .. ARGV[1])
end
return 0`,
);

/** KEYS: presence hash, nodes zset. ARGV: dead after (ms). Returns {user, joined, ...} of live nodes. */
export const MEMBERS = script(
  2,
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
 * KEYS: nodes zset. ARGV: node id, dead after (ms), key prefix. Records this node's beat, then
 * removes every node silent for longer than `dead after`, with its members, announcing each leave.
 * Only one node's script can remove a given node, so each leave is announced once.
 * Returns {1 if this node was absent (first beat, or it had been removed as dead), leaves announced}.
 */
export const BEAT = script(
  1,
  `${NOW}
local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
local left = 0
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))) do
  redis.call('ZREM', KEYS[1], node)
  local set = ARGV[3] .. ':node:' .. node .. ':channels'
  for _, ch in ipairs(redis.call('SMEMBERS', set)) do
    local base = ARGV[3] .. ':{' .. ch .. '}'
    local all = redis.call('HGETALL', base .. ':presence')
    for i = 1, #all, 2 do
      if string.match(all[i + 1], '^[^|]*') == node then
        redis.call('HDEL', base .. ':presence', all[i])
        redis.call('PUBLISH', base, 'l' .. all[i])
        left = left + 1
      end
    end
  end
  redis.call('DEL', set)
end
return {added, left}`,
);

/**
 * KEYS: nodes zset, this node's channel set. ARGV: node id, key prefix. A node that stops cleanly
 * forgets itself, and removes (announcing each leave) any name it still holds.
 */
export const FORGET = script(
  2,
  `redis.call('ZREM', KEYS[1], ARGV[1])
for _, ch in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local base = ARGV[2] .. ':{' .. ch .. '}'
  local all = redis.call('HGETALL', base .. ':presence')
  for i = 1, #all, 2 do
    if string.match(all[i + 1], '^[^|]*') == ARGV[1] then
      redis.call('HDEL', base .. ':presence', all[i])
      redis.call('PUBLISH', base, 'l' .. all[i])
    end
  end
end
redis.call('DEL', KEYS[2])
return 0`,
);
