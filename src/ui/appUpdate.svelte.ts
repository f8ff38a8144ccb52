/** A new version of Parley waiting to take over: announced on screen, applied only when the person chooses to reload. */
export class AppUpdate {
  /** Switches to the waiting version and reloads; null while there is none. */
  apply = $state<(() => void) | null>(null);
}
