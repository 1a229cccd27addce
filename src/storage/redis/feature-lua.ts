/**
 * The Redis implementation of the feature state primitives declared in `features/feature-writes.ts`; it
 * mirrors `storage/memory/feature-state.ts` line for line. KEYS: W (sorted set: the window, score =
 * timestamp), H (hash: user last-values and counters), S (hash: session counters), C (hash: windowed
 * counter buckets), all hash-tagged `{prefix:user}` so they share a slot in Redis Cluster.
 * ARGV[1]: JSON array of writes (one or more events of this user, in order); ARGV[2]: idle TTL in ms.
 * Numbers are stored with %.17g, which round-trips doubles exactly, so memory and Redis store equal values.
 */
export const APPLY_LUA = `
local W, H, S, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ops = cjson.decode(ARGV[1])
local ttl = tonumber(ARGV[2])
local function fmt(n) return string.format('%.17g', n) end
-- H and S are read once into tables, changed in Lua, and written back once at the end (fewer calls).
local function load(k)
  local t, flat = {}, redis.call('HGETALL', k)
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
local h, s = load(H), load(S)
local hdirty, sdirty, sreset = {}, {}, false
local function hset(f, v) h[f] = v; hdirty[f] = true end
local function sset(f, v) s[f] = v; sdirty[f] = true end
local function hnum(f) local v = h[f]; if v then return tonumber(v) end return nil end
local insession = true
local function session(o)
  local ts, sid = o.ts, o.sid
  local cur = h['sid']
  local start = false
  if not cur then
    start = true
  else
    local slast, sstart = hnum('slast'), hnum('sstart')
    if ts >= slast then
      if (sid and sid ~= cur) or ts - slast > o.gap then start = true
      else hset('slast', ts) end
      insession = true
    else
      insession = ((not sid) or sid == cur) and ts >= sstart - o.gap
      if insession and ts < sstart then hset('sstart', ts) end
    end
  end
  if start then
    hset('sid', sid or ('s' .. fmt(math.floor(ts))))
    hset('sstart', ts)
    hset('slast', ts)
    hset('sessions', (hnum('sessions') or 0) + 1)
    s, sdirty, sreset = {}, {}, true
    insession = true
  end
end
local function wincr(o)
  local cur = math.floor(hnum('latest') / o.bucketMs)
  local b = math.floor(o.ts / o.bucketMs)
  if b <= cur - o.buckets then return end
  local prefix = o.field .. '|'
  local f = prefix .. fmt(b)
  local old = redis.call('HGET', C, f)
  redis.call('HSET', C, f, fmt((tonumber(old or '0')) + o.by))
  for _, k in ipairs(redis.call('HKEYS', C)) do
    if string.sub(k, 1, #prefix) == prefix and tonumber(string.sub(k, #prefix + 1)) <= cur - o.buckets then
      redis.call('HDEL', C, k)
    end
  end
end
for _, o in ipairs(ops) do
  local op = o.op
  if op == 'session' then session(o)
  elseif op == 'max' then
    local cur = hnum(o.field)
    if (not cur) or o.value > cur then hset(o.field, o.value) end
  elseif op == 'min' then
    local cur = hnum(o.field)
    if (not cur) or o.value < cur then hset(o.field, o.value) end
  elseif op == 'incr' then
    if o.scope == 'user' then hset(o.field, (hnum(o.field) or 0) + o.by)
    elseif insession then sset(o.field, (tonumber(s[o.field] or '0')) + o.by) end
  elseif op == 'last' then
    local at = hnum(o.field .. '@')
    if (not at) or o.ts >= at then
      hset(o.field, o.value)
      hset(o.field .. '@', o.ts)
    end
  elseif op == 'window' then
    redis.call('ZADD', W, fmt(o.t), o.m)
    redis.call('ZREMRANGEBYSCORE', W, '-inf', '(' .. fmt(hnum('latest') - o.span))
    redis.call('ZREMRANGEBYRANK', W, 0, -(o.maxLen + 1))
  elseif op == 'wincr' then wincr(o)
  end
end
local function flush(k, t, dirty)
  local args = {}
  for f in pairs(dirty) do
    local v = t[f]
    if type(v) == 'number' then v = fmt(v) end
    args[#args + 1] = f
    args[#args + 1] = v
  end
  if #args > 0 then redis.call('HSET', k, unpack(args)) end
end
flush(H, h, hdirty)
if sreset then redis.call('DEL', S) end
flush(S, s, sdirty)
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
return 1
`;

/** One round trip, atomic: the window in time order and the three hashes. */
export const READ_LUA = `
return { redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4]) }
`;
