/**
 * The Redis implementation of the feature state primitives declared in `features/feature-writes.ts`; it
 * mirrors the memory backend (`storage/memory/feature-state.ts`, `applyEvent` for the built-in writes,
 * `apply` for custom ones). Per user four keys, hash-tagged `{prefix:user}` so they share a slot in Redis
 * Cluster: W (sorted set: the window, score = timestamp), H (hash: the user's last-values and counters, and
 * the current session's counters under an "s:" prefix, removed when a session starts), C (hash: windowed
 * counter buckets, only with custom duration aggregates), I (sorted set: the event ids applied, score = server
 * arrival time in ms). One hash rather than two halves the hash reads and writes per event.
 *
 * Exactly once per event id (issue 13): an event whose id is in I, or earlier in the same call, is skipped
 * whole, so a retry on another node after a crash between the log commit and this apply, or two nodes
 * applying the same retried event, count it once. A user's single event in a call (the common case: a batch
 * spans many users) is decided and recorded by one ZADD NX; several by one ZMSCORE and one ZADD (a ZADD NX
 * per event would cost a command per event). I keeps the ids that
 * arrived within the last `idSpan` ms (trimmed when the TTL is refreshed, so at least idSpan) and at most
 * `maxIds` of them (H's "in" counts I's members, like "wn" for W), and expires with W and H. A retry later
 * than that, or of an event pushed out by maxIds newer ones, is applied again.
 *
 * One call applies the events of one or more users (single node: a whole batch; Cluster: one user, the
 * calls pipelined), so a batch costs one round trip. The built-in writes travel as positional arguments
 * rather than JSON writes (a cjson decode of ~9 objects per event was most of the script's time); only
 * custom aggregates' writes are JSON. KEYS: W, H, C, I for user 1, then user 2, …
 * ARGV: ttl ms, session gap, window N, window T, 1 when C must be kept alive (custom durations), idSpan ms,
 * maxIds, the number of users; then per user its event count and per event seven values: ts, type,
 * sessionId ("" = none), tz offset ("" = none), the window member (`encodeEntry`), custom writes (JSON array,
 * "" = none), eventId.
 *
 * Costs measured per call (INFO commandstats; see the issue 3 note): each PEXPIRE and each trim command is
 * worth ~2–3 µs of server time, so
 *   - the window is trimmed once per user per call, after its inserts: trimming after each insert (as memory
 *     does) keeps the same entries, because the time bound only rises and an entry that had N newer entries
 *     keeps them; H's "wn" counts the window's members, so the trim by count runs only when it is over N;
 *   - the idle TTL is refreshed when the last refresh ("pexp" in H, server TIME in ms) is more than ttl/64
 *     old: a user expires between 63/64 of idleTtl and idleTtl after its last event (memory: exactly).
 * Numbers are stored with %.17g, which round-trips doubles exactly, so both backends store equal values;
 * the contract suite checks that they answer identically.
 */
export const APPLY_LUA = `
local ttl, gap, maxLen, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keepC, idSpan, maxIds, users = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local function fmt(n) return string.format('%.17g', n) end
local function load(k)
  local t, flat = {}, redis.call('HGETALL', k)
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
local h, hdirty, insession, C, usedC
local function hset(f, v) h[f] = v; hdirty[f] = true end
local function hnum(f) local v = h[f]; if v then return tonumber(v) end return nil end
local function maxf(f, v) local cur = hnum(f); if (not cur) or v > cur then hset(f, v) end end
local function minf(f, v) local cur = hnum(f); if (not cur) or v < cur then hset(f, v) end end
local function last(f, v, ts)
  local at = hnum(f .. '@')
  if (not at) or ts >= at then hset(f, v); hset(f .. '@', ts) end
end
local function incr(scope, f, by)
  if scope == 'user' then hset(f, (hnum(f) or 0) + by)
  elseif insession then hset('s:' .. f, (hnum('s:' .. f) or 0) + by) end
end
local function session(ts, sid)
  local cur = h['sid']
  local start = false
  if not cur then
    start = true
  else
    local slast, sstart = hnum('slast'), hnum('sstart')
    if ts >= slast then
      if (sid and sid ~= cur) or ts - slast > gap then start = true
      else hset('slast', ts) end
      insession = true
    else
      insession = ((not sid) or sid == cur) and ts >= sstart - gap
      if insession and ts < sstart then hset('sstart', ts) end
    end
  end
  if start then
    hset('sid', sid or ('s' .. fmt(math.floor(ts))))
    hset('sstart', ts)
    hset('slast', ts)
    hset('sessions', (hnum('sessions') or 0) + 1)
    for f in pairs(h) do
      if string.sub(f, 1, 2) == 's:' then h[f] = nil; hdirty[f] = true end
    end
    insession = true
  end
end
local function wincr(o)
  local cur = math.floor(hnum('latest') / o.bucketMs)
  local b = math.floor(o.ts / o.bucketMs)
  if b <= cur - o.buckets then return end
  local prefix = o.field .. '|'
  local f = prefix .. fmt(b)
  usedC = true
  local old = redis.call('HGET', C, f)
  redis.call('HSET', C, f, fmt((tonumber(old or '0')) + o.by))
  for _, k in ipairs(redis.call('HKEYS', C)) do
    if string.sub(k, 1, #prefix) == prefix and tonumber(string.sub(k, #prefix + 1)) <= cur - o.buckets then
      redis.call('HDEL', C, k)
    end
  end
end
local function custom(ops)
  for _, o in ipairs(cjson.decode(ops)) do
    if o.op == 'incr' then incr(o.scope, o.field, o.by)
    elseif o.op == 'last' then last(o.field, o.value, o.ts)
    elseif o.op == 'wincr' then wincr(o) end
  end
end
local function flush(k)
  local args, gone = {}, {}
  for f in pairs(hdirty) do
    local v = h[f]
    if v == nil then gone[#gone + 1] = f
    else
      if type(v) == 'number' then v = fmt(v) end
      args[#args + 1] = f
      args[#args + 1] = v
    end
  end
  if #gone > 0 then redis.call('HDEL', k, unpack(gone)) end
  if #args > 0 then redis.call('HSET', k, unpack(args)) end
end
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- The event ids of a user's events not applied before (nor earlier in this call): a set of their indices,
-- and whether they are already recorded in I. Most calls carry one event per user (a batch spans many
-- users): that one is decided and recorded by a single ZADD NX; more use one ZMSCORE, then one ZADD.
local function freshIds(I, from, n)
  local ids = {}
  for j = 1, n do ids[j] = ARGV[from + (j - 1) * 7 + 6] end
  if n == 1 then return { redis.call('ZADD', I, 'NX', nowMs, ids[1]) == 1 }, ids, true end
  local fresh, seen = {}, {}
  for i = 1, #ids, 2000 do
    local known = redis.call('ZMSCORE', I, unpack(ids, i, math.min(i + 1999, #ids)))
    for j = 1, #known do
      local id = ids[i + j - 1]
      if (not known[j]) and not seen[id] then seen[id] = true; fresh[i + j - 1] = true end
    end
  end
  return fresh, ids, false
end
-- Records the applied ids and keeps I within idSpan (when the TTL is refreshed) and maxIds. An I created
-- between two TTL refreshes (empty before: a user from before I existed, or all ids trimmed) gets its TTL now.
local function remember(I, added, refresh, recorded)
  local new = #added / 2
  local count = hnum('in')
  if not count then
    count = redis.call('ZCARD', I)
    if recorded then count = count - new end
  end
  local created = count == 0
  if recorded then count = count + new
  else
    for i = 1, #added, 2000 do count = count + redis.call('ZADD', I, unpack(added, i, math.min(i + 1999, #added))) end
  end
  if refresh then count = count - redis.call('ZREMRANGEBYSCORE', I, '-inf', '(' .. fmt(nowMs - idSpan)) end
  if count > maxIds then
    redis.call('ZREMRANGEBYRANK', I, 0, -(maxIds + 1))
    count = maxIds
  end
  if count ~= hnum('in') then hset('in', count) end
  if created and not refresh then redis.call('PEXPIRE', I, ttl) end
end
local a = 9
for u = 1, users do
  local W, H, I = KEYS[4 * u - 3], KEYS[4 * u - 2], KEYS[4 * u]
  C = KEYS[4 * u - 1]
  h, hdirty, insession, usedC = load(H), {}, true, false
  local n = tonumber(ARGV[a])
  a = a + 1
  local fresh, ids, recorded = freshIds(I, a, n)
  local z, added = {}, {}
  for j = 1, n do
    if fresh[j] then
      local ts, typ, sid, tz = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
      if sid == '' then sid = nil end
      session(ts, sid)
      maxf('latest', ts)
      minf('first', ts)
      incr('user', 'events', 1)
      incr('session', 'events', 1)
      incr('session', 'n:' .. typ, 1)
      maxf('last:' .. typ, ts)
      if tz ~= '' then last('tz', tonumber(tz), ts) end
      z[#z + 1] = ARGV[a]
      z[#z + 1] = ARGV[a + 4]
      if ARGV[a + 5] ~= '' then custom(ARGV[a + 5]) end
      added[#added + 1] = nowMs
      added[#added + 1] = ids[j]
    end
    a = a + 7
  end
  local pexp = hnum('pexp')
  local refresh = (not pexp) or nowMs - pexp > ttl / 64 or nowMs < pexp
  if #z > 0 then
    -- ZADD in chunks: unpack is bounded by the Lua stack.
    local wn = hnum('wn') or redis.call('ZCARD', W)
    for i = 1, #z, 2000 do wn = wn + redis.call('ZADD', W, unpack(z, i, math.min(i + 1999, #z))) end
    wn = wn - redis.call('ZREMRANGEBYSCORE', W, '-inf', '(' .. fmt(hnum('latest') - span))
    if wn > maxLen then
      redis.call('ZREMRANGEBYRANK', W, 0, -(maxLen + 1))
      wn = maxLen
    end
    if wn ~= hnum('wn') then hset('wn', wn) end
    remember(I, added, refresh, recorded)
  else
    refresh = false -- nothing applied: a user is kept alive by the events it gets, not by retries
  end
  if refresh then hset('pexp', nowMs) end
  flush(H)
  if refresh then
    redis.call('PEXPIRE', W, ttl)
    redis.call('PEXPIRE', H, ttl)
    redis.call('PEXPIRE', I, ttl)
  end
  if keepC and (refresh or usedC) then redis.call('PEXPIRE', C, ttl) end
end
return users
`;
