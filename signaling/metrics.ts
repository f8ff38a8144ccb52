/**
 * Counters and gauges of one instance, served at /metrics in the Prometheus text format (version 0.0.4). They hold
 * counts only: no room ids, peer ids or addresses.
 */

import type { ErrorCode } from '../src/core/protocol/signaling.ts';
import type { TurnAwayCode } from './logger.ts';

export type RelayPath = 'local' | 'cluster';

/** What the hub and the server report; read when /metrics is asked for. */
export class Metrics {
  readonly #refusals = new Map<ErrorCode | TurnAwayCode, number>();
  readonly #relayed: Record<RelayPath, number> = { local: 0, cluster: 0 };
  #turnCredentials = 0;

  refused(code: ErrorCode | TurnAwayCode): void {
    this.#refusals.set(code, (this.#refusals.get(code) ?? 0) + 1);
  }

  relayed(path: RelayPath): void {
    this.#relayed[path] += 1;
  }

  turnCredentialsIssued(): void {
    this.#turnCredentials += 1;
  }

  /** `gauges` are read at the moment of the request from whoever owns them. */
  render(gauges: { readonly connections: number; readonly rooms: number; readonly redis: { readonly up: boolean; readonly roundTripSeconds: number | null } | null }): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: readonly (readonly [labels: string, value: number])[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric('parley_connections', 'gauge', 'Open signaling WebSockets on this instance.', [['', gauges.connections]]);
    metric('parley_rooms', 'gauge', 'Rooms with at least one member connected to this instance.', [['', gauges.rooms]]);
    metric('parley_signals_relayed_total', 'counter', 'Signals relayed from clients of this instance, to a member here (local) or on another instance (cluster).', [
      ['{path="local"}', this.#relayed.local],
      ['{path="cluster"}', this.#relayed.cluster],
    ]);
    metric(
      'parley_refusals_total',
      'counter',
      'Frames refused and connections turned away, by code.',
      [...this.#refusals].sort(([a], [b]) => a.localeCompare(b)).map(([code, count]) => [`{code="${code}"}`, count] as const),
    );
    metric('parley_turn_credentials_issued_total', 'counter', 'Short-lived TURN credentials handed out.', [['', this.#turnCredentials]]);
    if (gauges.redis !== null) {
      metric('parley_redis_up', 'gauge', 'Whether the shared room directory (Redis) is reachable and lists this instance.', [['', gauges.redis.up ? 1 : 0]]);
      if (gauges.redis.roundTripSeconds !== null) {
        metric('parley_redis_round_trip_seconds', 'gauge', 'Round-trip time of the latest liveness renewal in Redis.', [['', gauges.redis.roundTripSeconds]]);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
