import { describe, expect, it } from 'vitest';
import { notificationContent } from '../../src/core/notify/notificationContent.ts';

describe('notificationContent', () => {
  it('says only that a message arrived unless the person chose names and text', () => {
    for (const arrival of [
      { kind: 'text', authorName: 'Alice', text: 'meet at the station' },
      { kind: 'file', authorName: 'Alice', fileName: 'passport.jpg' },
    ] as const) {
      const shown = notificationContent('private', arrival);
      expect(shown).toEqual({ title: 'New message in Parley', body: '' });
    }
  });

  it('names the author and quotes the text, on one line and shortened, when chosen', () => {
    expect(notificationContent('names-and-text', { kind: 'text', authorName: 'Alice', text: 'meet\n at  the station' })).toEqual({
      title: 'Alice in Parley',
      body: 'meet at the station',
    });
    const long = notificationContent('names-and-text', { kind: 'text', authorName: 'Alice', text: 'x'.repeat(500) });
    expect(long.body).toBe(`${'x'.repeat(140)}…`);
    expect(notificationContent('names-and-text', { kind: 'file', authorName: 'Bob', fileName: 'plan.pdf' })).toEqual({
      title: 'Bob in Parley',
      body: 'Sent a file: plan.pdf',
    });
  });
});
