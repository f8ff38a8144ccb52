/** What the "Always relay" setting needs from the page: the stored choice, and whether the site has a relay server. */

/** null until the page has asked the server; then whether it hands out relay (TURN) credentials. */
export type RelayServerKnown = boolean | null;

export interface RelayControl {
  alwaysRelay(): boolean;
  setAlwaysRelay(on: boolean): void;
  /** Calls `listener` now and whenever it changes; returns how to stop. */
  watchRelayServer(listener: (known: RelayServerKnown) => void): () => void;
}
