/**
 * An in-memory PeerJS broker with the PeerServer's rules (spec §3.8): an id is held by one connection, a second
 * claim is refused as taken, a message is relayed with the sender's id stamped on it, a message for an id nobody
 * holds is kept until someone takes the id or the test expires it (then its sender hears "undeliverable"), and an id
 * can be held by a stale connection that swallows everything. Delivery is asynchronous, through the Scheduler.
 */
import type { BrokerConnection, BrokerHandlers, BrokerPort, BrokerProblem } from '../../../src/core/room/brokerSignaling.ts';
import type { Scheduler } from './roomFakes.ts';

interface Holder {
  readonly owner: string;
  /** null for a stale holder: the broker still lists the id, nothing reaches anyone. */
  readonly handlers: BrokerHandlers | null;
  open: boolean;
}

export interface BrokerMessage {
  readonly from: string;
  readonly to: string;
  readonly payload: string;
}

/** What a hostile broker does with a relayed message: pass it (maybe changed), or drop it (null). */
export type Tamper = (message: BrokerMessage) => BrokerMessage | null;

export class FakeBroker {
  readonly endpoint = 'broker.test:9000';
  private readonly holders = new Map<string, Holder>();
  private readonly queued: BrokerMessage[] = [];
  /** Every message relayed, in order, as the broker saw it. */
  readonly log: BrokerMessage[] = [];
  /** Set to make the broker refuse (or never answer) every new connection. */
  behaviour: 'normal' | BrokerProblem | 'silent' = 'normal';
  tamper: Tamper = (message) => message;
  private readonly muted = new Set<string>();
  private readonly attempts = new Map<string, number>();

  constructor(private readonly scheduler: Scheduler) {}

  port(owner: string): BrokerPort {
    return { endpoint: this.endpoint, connect: (id, handlers) => this.connect(owner, id, handlers) };
  }

  /** The id is held by a connection that will never answer (a page that vanished without closing its socket). */
  holdStale(id: string): void {
    this.holders.set(id, { owner: 'stale', handlers: null, open: true });
  }

  /** Sends as if from `from` (a test playing a member that misbehaves, or the broker lying about a sender). */
  inject(from: string, to: string, payload: string): void {
    this.relay({ from, to, payload });
  }

  /** From now on, nothing `owner` sends reaches anyone, though the broker still lists it. */
  mute(owner: string): void {
    this.muted.add(owner);
  }

  /** Who holds each id now. */
  holderOf(id: string): string | null {
    return this.holders.get(id)?.owner ?? null;
  }

  /** The broker's connection to `owner` breaks (its network dropped). */
  drop(owner: string): void {
    for (const [id, holder] of [...this.holders]) {
      if (holder.owner !== owner) continue;
      this.holders.delete(id);
      const handlers = holder.handlers;
      if (handlers !== null) this.scheduler.schedule(() => handlers.onClose(null));
    }
  }

  /** The broker gives up on what it kept for ids nobody took, telling each sender once per id. */
  expireQueued(): void {
    const told = new Set<string>();
    for (const message of this.queued.splice(0)) {
      const key = `${message.from}>${message.to}`;
      const sender = this.holders.get(message.from);
      if (told.has(key) || sender?.handlers == null) continue;
      told.add(key);
      const handlers = sender.handlers;
      this.scheduler.schedule(() => handlers.onUndeliverable(message.to));
    }
  }

  /** How many times `owner` asked for an id, whatever the answer. */
  connectAttempts(owner: string): number {
    return this.attempts.get(owner) ?? 0;
  }

  private connect(owner: string, id: string, handlers: BrokerHandlers): BrokerConnection {
    this.attempts.set(owner, this.connectAttempts(owner) + 1);
    let closed = false;
    const holder: Holder = { owner, handlers, open: false };
    this.scheduler.schedule(() => {
      if (closed) return;
      switch (this.behaviour) {
        case 'silent':
          return;
        case 'unreachable':
        case 'refused': {
          const problem = this.behaviour;
          closed = true;
          handlers.onClose(problem);
          return;
        }
        case 'normal':
          break;
      }
      if (this.holders.has(id)) {
        closed = true;
        handlers.onTaken();
        return;
      }
      this.holders.set(id, holder);
      holder.open = true;
      handlers.onOpen();
      // What was kept for this id goes to its new holder, as the PeerServer does.
      for (const message of this.queued.filter((kept) => kept.to === id)) {
        this.queued.splice(this.queued.indexOf(message), 1);
        this.scheduler.schedule(() => {
          if (!closed) handlers.onMessage(message.from, message.payload);
        });
      }
    });
    return {
      send: (to, payload) => {
        if (closed || !holder.open || this.muted.has(owner)) return;
        this.relay({ from: id, to, payload });
      },
      close: () => {
        closed = true;
        if (this.holders.get(id) === holder) this.holders.delete(id);
      },
    };
  }

  private relay(original: BrokerMessage): void {
    this.log.push(original);
    const message = this.tamper(original);
    if (message === null) return;
    const holder = this.holders.get(message.to);
    if (holder === undefined) {
      this.queued.push(message);
      return;
    }
    const handlers = holder.handlers;
    if (handlers === null) return;
    this.scheduler.schedule(() => {
      if (this.holders.get(message.to) === holder) handlers.onMessage(message.from, message.payload);
    });
  }
}
