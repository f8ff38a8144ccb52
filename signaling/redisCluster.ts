/**
 * Rooms shared by several instances through Redis: membership in one hash per room, changed only by Lua scripts so
 * that a join checks and takes a place in one atomic step; frames for members on other instances through one
 * pub/sub channel per instance; a liveness lease per instance, and a reaper that removes the members of an instance
 * whose lease ran out and tells their rooms.
 *
 * Keys (prefix `parley:`):
 *   room:<roomId>              hash: <peer id> → "<join seq> <instance id> <nonce>", and "#" → the room's join counter
 *   instance:<id>:alive        the lease, set with PX; renewed every LEASE_RENEW_MS over a connection of its own,
 *                              so that it never waits behind a burst of joins and relays
 *   instance:<id>:members      set of "<roomId> <peer id>": what to remove if the instance dies
 *   instances                  set of instance ids the reaper looks at
 * Channel instance:<id>:events carries "<recipient peer ids, comma-separated> <server frame JSON>".
 * Every value put into a script comes from a parsed frame (ids, nonces and blobs are base64url) or from this module
 * (instance ids), so frames can be assembled in Lua by concatenation without escaping. The scripts touch keys that
 * they build from their arguments, which a single Redis (not Redis Cluster) allows.
 */

import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@redis/client';
import { parseClusterMessage, type ClusterHandlers, type ClusterJoin, type ClusterMember, type ClusterRelay, type RoomCluster } from './cluster.ts';
import { LOG_WINDOW_MS, type Logger } from './logger.ts';
import { FirstPerWindow } from './rateLimit.ts';

/** How often an instance renews its lease and looks for dead instances. */
export const LEASE_RENEW_MS = 1000;
/**
 * An instance silent for this long is dead: its members are removed and their rooms told, within about this time and
 * one more reaper round. Long enough that an overloaded instance (timers late by seconds) keeps its lease.
 */
export const LEASE_MS = 5000;
/**
 * Joins and lease renewals that get no answer within this time fail, so a join never hangs on a Redis that stopped
 * answering. Relays and leaves go without: a timer per command costs a quarter of the relay path's CPU, and they are
 * failed anyway when the connection to Redis closes.
 */
const COMMAND_TIMEOUT_MS = 2000;
const RECONNECT_MAX_DELAY_MS = 1000;

const PREFIX = 'parley:';
const INSTANCES_KEY = `${PREFIX}instances`;
const roomKey = (roomId: string): string => `${PREFIX}room:${roomId}`;
const aliveKey = (instance: string): string => `${PREFIX}instance:${instance}:alive`;
const membersKey = (instance: string): string => `${PREFIX}instance:${instance}:members`;
const eventsChannel = (instance: string): string => `${PREFIX}instance:${instance}:events`;

/** Shared by the scripts: how an instance's key names and a member's departure look in Lua. */
const LUA_PRELUDE = `
local P = '${PREFIX}'
local function alive_key(id) return P .. 'instance:' .. id .. ':alive' end
local function members_key(id) return P .. 'instance:' .. id .. ':members' end
local function channel(id) return P .. 'instance:' .. id .. ':events' end
local function parse(value)
  local seq, instance, nonce = string.match(value, '^(%d+) (%S+) (%S+)$')
  return tonumber(seq), instance, nonce
end
-- Publishes frame to every member of the room whose instance is not skip, one message per instance.
local function tell(room_key, frame, skip)
  local fields = redis.call('HGETALL', room_key)
  local by_instance = {}
  for i = 1, #fields, 2 do
    if fields[i] ~= '#' then
      local _, instance = parse(fields[i + 1])
      if instance ~= skip then
        local list = by_instance[instance]
        by_instance[instance] = list and (list .. ',' .. fields[i]) or fields[i]
      end
    end
  end
  for instance, recipients in pairs(by_instance) do
    redis.call('PUBLISH', channel(instance), recipients .. ' ' .. frame)
  end
end
-- Removes a member and tells the rest of its room, except those on instance skip (that instance tells its own).
local function leave(room, peer, skip)
  local room_key = P .. 'room:' .. room
  if redis.call('HDEL', room_key, peer) == 0 then return 0 end
  if redis.call('HLEN', room_key) <= 1 then
    redis.call('DEL', room_key)
    return 1
  end
  tell(room_key, '{"v":1,"type":"peer-left","peer":"' .. peer .. '"}', skip)
  return 1
end
`;

/** KEYS: room, own alive, own members. ARGV: room id, peer, nonce, instance, max members. */
const JOIN_SCRIPT = `${LUA_PRELUDE}
if redis.call('EXISTS', KEYS[2]) == 0 then return 'lost' end
local fields = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #fields, 2 do
  if fields[i] ~= '#' then
    local seq, instance, nonce = parse(fields[i + 1])
    if nonce == ARGV[3] then
      -- The same room session on a new connection: the old one leaves without a peer-left, and a peer-left naming
      -- itself tells its instance to cut it.
      redis.call('HDEL', KEYS[1], fields[i])
      redis.call('SREM', members_key(instance), ARGV[1] .. ' ' .. fields[i])
      redis.call('PUBLISH', channel(instance), fields[i] .. ' {"v":1,"type":"peer-left","peer":"' .. fields[i] .. '"}')
    else
      others[#others + 1] = { seq, fields[i], nonce, instance }
    end
  end
end
if #others >= tonumber(ARGV[5]) then return 'full' end
table.sort(others, function(a, b) return a[1] < b[1] end)
tell(KEYS[1], '{"v":1,"type":"peer-joined","peer":"' .. ARGV[2] .. '","nonce":"' .. ARGV[3] .. '"}', ARGV[4])
local seq = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('HSET', KEYS[1], ARGV[2], seq .. ' ' .. ARGV[4] .. ' ' .. ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1] .. ' ' .. ARGV[2])
local reply = {}
for _, other in ipairs(others) do
  reply[#reply + 1] = other[2]
  reply[#reply + 1] = other[3]
  reply[#reply + 1] = other[4]
end
return reply
`;

/** KEYS: own members. ARGV: room id, peer, instance. */
const LEAVE_SCRIPT = `${LUA_PRELUDE}
redis.call('SREM', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return leave(ARGV[1], ARGV[2], ARGV[3])
`;

/** KEYS: room. ARGV: from, to, blob, instance. 1 if published, 0 if `to` is in no room of ours elsewhere. */
const RELAY_SCRIPT = `${LUA_PRELUDE}
local value = redis.call('HGET', KEYS[1], ARGV[2])
if not value or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local _, instance = parse(value)
if instance == ARGV[4] then return 0 end
redis.call('PUBLISH', channel(instance), ARGV[2] .. ' {"v":1,"type":"signal","from":"' .. ARGV[1] .. '","blob":"' .. ARGV[3] .. '"}')
return 1
`;

/** KEYS: own alive, instances. ARGV: instance, lease ms. */
const REGISTER_SCRIPT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: own alive, instances. ARGV: instance, lease ms. 1 if renewed, or taken again after running out while no
 * reaper has removed our members yet (a stall, not a death; the reaper runs atomically too, so it is one or the
 * other); 0 if the members were removed: the instance counts as dead.
 */
const RENEW_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[2], 'XX') then return 1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  return 1
end
return 0
`;

/** KEYS: instances. Removes the members of every instance whose lease ran out; returns how many. */
const REAP_SCRIPT = `${LUA_PRELUDE}
local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', alive_key(id)) == 0 then
    for _, entry in ipairs(redis.call('SMEMBERS', members_key(id))) do
      local room, peer = string.match(entry, '^(%S+) (%S+)$')
      removed = removed + leave(room, peer, id)
    end
    redis.call('DEL', members_key(id))
    redis.call('SREM', KEYS[1], id)
  end
end
return removed
`;

/** KEYS: own alive, own members, instances. ARGV: instance. Members are expected to have left already. */
const UNREGISTER_SCRIPT = `${LUA_PRELUDE}
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local room, peer = string.match(entry, '^(%S+) (%S+)$')
  leave(room, peer, ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1
`;

type Script = { readonly source: string; readonly sha: string };

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  join: script(JOIN_SCRIPT),
  leave: script(LEAVE_SCRIPT),
  relay: script(RELAY_SCRIPT),
  register: script(REGISTER_SCRIPT),
  renew: script(RENEW_SCRIPT),
  reap: script(REAP_SCRIPT),
  unregister: script(UNREGISTER_SCRIPT),
};

function newInstanceId(): string {
  return randomBytes(9).toString('base64url');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The join script's answer: 'lost', 'full', or a flat list of (peer, nonce, instance) for the members before us. */
function parseJoinReply(reply: unknown, ownInstance: string): ClusterJoin | 'lost' {
  if (reply === 'lost') return 'lost';
  if (reply === 'full') return { ok: false, reason: 'room-full' };
  if (!Array.isArray(reply) || reply.length % 3 !== 0) throw new Error('Redis answered a join with something that is not a member list');
  const others: ClusterMember[] = [];
  for (let i = 0; i < reply.length; i += 3) {
    const [peer, nonce, instance]: unknown[] = reply.slice(i, i + 3);
    if (typeof peer !== 'string' || typeof nonce !== 'string' || typeof instance !== 'string') {
      throw new Error('Redis listed a room member that is not three strings');
    }
    others.push({ peer, nonce, local: instance === ownInstance });
  }
  return { ok: true, others };
}

type RedisClient = ReturnType<typeof createClient>;

export class RedisCluster implements RoomCluster {
  /** Joins, leaves and relays. */
  readonly #commands: RedisClient;
  readonly #subscriber: RedisClient;
  /** The lease and the reaper, apart from the traffic. */
  readonly #lease: RedisClient;
  readonly #handlers: ClusterHandlers;
  readonly #log: Logger;
  #instance = newInstanceId();
  /** Whether the lease of #instance was ever taken; renewing it fails once it has run out. */
  #registered = false;
  /** The instance id whose channel the subscriber listens to (node-redis resubscribes by itself after a reconnect). */
  #subscribedTo: string | null = null;
  #leaseRenewedAt = Number.NEGATIVE_INFINITY;
  #roundTripSeconds: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;
  #closed = false;
  #lastReported: 'up' | 'down' | null = null;
  readonly #unreadable = new FirstPerWindow<'unreadable'>(LOG_WINDOW_MS);

  private constructor(url: string, handlers: ClusterHandlers, log: Logger) {
    this.#handlers = handlers;
    this.#log = log;
    this.#commands = createClient({
      url,
      // A command issued while Redis is away fails at once instead of waiting in a queue: a join is refused
      // while the person is still looking, rather than succeeding late into a room whose members moved on.
      disableOfflineQueue: true,
      socket: { connectTimeout: COMMAND_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, RECONNECT_MAX_DELAY_MS) },
    });
    this.#subscriber = this.#commands.duplicate();
    this.#lease = this.#commands.duplicate();
    for (const client of this.#clients) {
      // node-redis emits 'error' for every failed connection attempt; unhandled, it would end the process.
      client.on('error', (error: unknown) => this.#report('down', errorMessage(error)));
    }
  }

  /**
   * Connects and registers this instance. If Redis cannot be reached, the instance still starts (not ready, joins
   * refused) and keeps trying: an operator starting servers in any order should not have to restart them.
   */
  static async start(url: string, handlers: ClusterHandlers, log: Logger): Promise<RedisCluster> {
    const cluster = new RedisCluster(url, handlers, log);
    await cluster.#begin();
    return cluster;
  }

  get #clients(): readonly RedisClient[] {
    return [this.#commands, this.#subscriber, this.#lease];
  }

  get #connected(): boolean {
    return this.#clients.every((client) => client.isReady);
  }

  get ready(): boolean {
    // A Redis that accepts connections but stops answering shows as renewals that no longer come back.
    return this.#connected && this.#registered && performance.now() - this.#leaseRenewedAt < LEASE_MS;
  }

  get roundTripSeconds(): number | null {
    return this.#roundTripSeconds;
  }

  async #begin(): Promise<void> {
    const connected = Promise.all(this.#clients.map((client) => client.connect()));
    connected.catch(() => {});
    this.#timer = setInterval(() => void this.#tick(), LEASE_RENEW_MS);
    // Waiting for Redis at start is worth a moment, so a freshly started instance is ready when it says it runs.
    await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, COMMAND_TIMEOUT_MS).unref())]);
    await this.#tick();
  }

  async #run(which: keyof typeof SCRIPTS, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const { sha, source } = SCRIPTS[which];
    const tail = [String(keys.length), ...keys, ...args];
    const traffic = which === 'join' || which === 'leave' || which === 'relay';
    const client = traffic ? this.#commands : this.#lease;
    const options = which === 'relay' || which === 'leave' ? undefined : { timeout: COMMAND_TIMEOUT_MS };
    try {
      return await client.sendCommand(['EVALSHA', sha, ...tail], options);
    } catch (error) {
      // A Redis that restarted has forgotten our scripts; sending one in full also loads it for the next EVALSHA.
      if (!errorMessage(error).startsWith('NOSCRIPT')) throw error;
      return client.sendCommand(['EVAL', source, ...tail], options);
    }
  }

  #report(state: 'up' | 'down', reason: string): void {
    if (this.#lastReported === state || this.#closed) return;
    this.#lastReported = state;
    this.#log({ kind: 'cluster', state, reason });
  }

  /** Renews (or first takes) the lease, then removes dead instances' members. One tick at a time. */
  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    if (!this.#connected) return;
    this.#ticking = true;
    try {
      await this.#renewOrRegister();
      await this.#run('reap', [INSTANCES_KEY], []);
      this.#report('up', 'Redis reachable; this instance is registered');
    } catch (error) {
      this.#report('down', errorMessage(error));
    } finally {
      this.#ticking = false;
    }
  }

  async #renewOrRegister(): Promise<void> {
    const started = performance.now();
    if (this.#registered) {
      if ((await this.#run('renew', [aliveKey(this.#instance), INSTANCES_KEY], [this.#instance, String(LEASE_MS)])) === 1) {
        this.#leased(started);
        return;
      }
      // The lease ran out before we renewed it (Redis was away too long, or restarted empty): the others may
      // already have removed our members. Start afresh under a new id, so that nothing registered under the old
      // one is ever half ours, and have every member join again.
      const previous = this.#instance;
      this.#instance = newInstanceId();
      this.#registered = false;
      await this.#subscriber.unsubscribe(eventsChannel(previous));
      this.#subscribedTo = null;
      this.#handlers.registrationLost();
    }
    if (this.#subscribedTo !== this.#instance) {
      await this.#subscriber.subscribe(eventsChannel(this.#instance), (message) => this.#onMessage(message));
      this.#subscribedTo = this.#instance;
    }
    await this.#run('register', [aliveKey(this.#instance), INSTANCES_KEY], [this.#instance, String(LEASE_MS)]);
    this.#registered = true;
    this.#leased(started);
  }

  #leased(started: number): void {
    this.#roundTripSeconds = (performance.now() - started) / 1000;
    this.#leaseRenewedAt = started;
  }

  #onMessage(message: string): void {
    const delivery = parseClusterMessage(message);
    // Only instances sharing our Redis publish here; a message we cannot read is a version mismatch, not input to act on.
    if (delivery === null) {
      const suppressed = this.#unreadable.take('unreadable', performance.now());
      if (suppressed !== null) {
        this.#log({ kind: 'cluster', state: 'unreadable', reason: `a message from another instance could not be parsed (${suppressed} more since the last line)` });
      }
      return;
    }
    this.#handlers.deliver(delivery);
  }

  async join(roomId: string, peer: string, nonce: string, maxMembers: number): Promise<ClusterJoin> {
    // Whether our lease still holds is the join script's own first check, made atomically in Redis.
    if (!this.#commands.isReady || !this.#registered) return { ok: false, reason: 'unavailable' };
    try {
      const instance = this.#instance;
      const reply = await this.#run('join', [roomKey(roomId), aliveKey(instance), membersKey(instance)], [roomId, peer, nonce, instance, String(maxMembers)]);
      const outcome = parseJoinReply(reply, instance);
      // 'lost': our lease ran out under us; the next tick registers afresh.
      return outcome === 'lost' ? { ok: false, reason: 'unavailable' } : outcome;
    } catch {
      return { ok: false, reason: 'unavailable' };
    }
  }

  async leave(roomId: string, peer: string): Promise<void> {
    try {
      await this.#run('leave', [membersKey(this.#instance)], [roomId, peer, this.#instance]);
    } catch {
      // Redis is away: once our lease runs out the reaper removes this member with the rest, and tells its room.
    }
  }

  async relay(roomId: string, from: string, to: string, blob: string): Promise<ClusterRelay> {
    try {
      const sent = await this.#run('relay', [roomKey(roomId)], [from, to, blob, this.#instance]);
      return sent === 1 ? 'sent' : 'unknown-peer';
    } catch {
      return 'unavailable';
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    try {
      if (this.#lease.isReady) {
        const instance = this.#instance;
        await this.#run('unregister', [aliveKey(instance), membersKey(instance), INSTANCES_KEY], [instance]);
      }
    } catch {
      // Our lease runs out on its own and the reaper does the rest.
    }
    for (const client of this.#clients) {
      if (client.isOpen) client.destroy();
    }
  }
}
