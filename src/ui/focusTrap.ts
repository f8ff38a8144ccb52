/** Keeps Tab and Shift+Tab inside a modal dialog: the browser would otherwise move the focus out to its own toolbar. */

/** A keydown handler for the dialog: past its last control Tab goes to its first, and Shift+Tab the other way round. */
export function keepFocusInside(event: KeyboardEvent & { currentTarget: HTMLElement }): void {
  if (event.key !== 'Tab') return;
  const controls = event.currentTarget.querySelectorAll<HTMLElement>('a[href], button:not(:disabled), input:not(:disabled), select, textarea');
  const edge = controls[event.shiftKey ? 0 : controls.length - 1];
  const wrapTo = controls[event.shiftKey ? controls.length - 1 : 0];
  if (edge === undefined || wrapTo === undefined || document.activeElement === edge || !event.currentTarget.contains(document.activeElement)) {
    event.preventDefault();
    wrapTo?.focus();
  }
}
