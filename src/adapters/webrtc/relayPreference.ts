/**
 * The "Always relay" choice: held by the page, and kept in this browser's localStorage so it outlives the page (a
 * device setting, the same for guests and profiles). Storage that is unavailable only stops it being remembered.
 */

const KEY = 'parley.alwaysRelay';

export class RelayPreference {
  #on: boolean;

  constructor() {
    try {
      this.#on = localStorage.getItem(KEY) === 'on';
    } catch {
      this.#on = false;
    }
  }

  get on(): boolean {
    return this.#on;
  }

  set(on: boolean): void {
    this.#on = on;
    try {
      if (on) localStorage.setItem(KEY, 'on');
      else localStorage.removeItem(KEY);
    } catch {
      // Not remembered past this page; it still holds for every connection this page makes.
    }
  }
}
