//! The Lua scripts that alone change the shared budget's sorted sets; Redis runs each
//! atomically.
//!
//! Times are milliseconds on Redis's clock (`TIME`). Every number handed to `redis.call` stays
//! under 14 digits, as Lua turns a number into its text with 14 significant digits. Each script
//! sets the keys it writes to expire after three lease periods, so an upstream no replica
//! serves any more leaves nothing behind.

use std::sync::LazyLock;

use redis::Script;

/// KEYS: leases, queue, waiting. ARGV: id, budget, lease ms, waiter ms. Returns 1 when `id` got
/// a slot (and left the queue), 0 when it is in the queue: a slot goes to a waiter among the
/// first (budget − held), or to a newcomer when fewer wait than there are free slots.
pub(super) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #lapsed do
  redis.call('ZREM', KEYS[2], lapsed[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local id = ARGV[1]
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[2], id)
local granted = false
if free > 0 then
  if rank then
    granted = rank < free
  else
    granted = redis.call('ZCARD', KEYS[2]) < free
  end
end
local keep = tonumber(ARGV[3]) * 3
if granted then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('PEXPIRE', KEYS[1], keep)
  return 1
end
if not rank then
  redis.call('ZADD', KEYS[2], now, id)
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
redis.call('PEXPIRE', KEYS[2], keep)
redis.call('PEXPIRE', KEYS[3], keep)
return 0
",
    )
});

/// KEYS: leases. ARGV: lease ms, then the ids to extend. Only leases still there are extended
/// (`XX`): one that lapsed stays lapsed, and one released meanwhile is not brought back.
pub(super) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', expiry, ARGV[i])
end
if renewed > 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 3)
end
return renewed
",
    )
});

/// KEYS: leases, queue, waiting. ARGV: the ids to remove from all three.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local removed = 0
for _, key in ipairs(KEYS) do
  removed = removed + redis.call('ZREM', key, unpack(ARGV))
end
return removed
",
    )
});
