/** config.json parsed strictly: the defaults, every setting, and each kind of mistake refused with a reason. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FILE_BYTES, parseAppConfig, resolveSignalingUrls } from '../../src/core/protocol/appConfig.ts';

const reasonOf = (value: unknown): string => {
  const parsed = parseAppConfig(value);
  if (parsed.ok) throw new Error(`accepted ${JSON.stringify(value)}`);
  return parsed.reason;
};

describe('parseAppConfig', () => {
  it('an empty object means the page’s own server, no ICE servers and the default file limit', () => {
    expect(parseAppConfig({})).toEqual({ ok: true, config: { signaling: { mode: 'parley', urls: [] }, iceServers: [], maxFileBytes: DEFAULT_MAX_FILE_BYTES } });
  });

  it('takes several signaling servers, ICE servers and a file limit', () => {
    const parsed = parseAppConfig({
      signaling: { mode: 'parley', urls: ['wss://a.example/ws', 'ws://localhost:9000/ws'] },
      iceServers: [{ urls: 'turn:turn.example:3478', username: 'u', credential: 'p' }],
      maxFileBytes: 1024,
    });
    expect(parsed).toEqual({
      ok: true,
      config: {
        signaling: { mode: 'parley', urls: ['wss://a.example/ws', 'ws://localhost:9000/ws'] },
        iceServers: [{ urls: ['turn:turn.example:3478'], username: 'u', credential: 'p' }],
        maxFileBytes: 1024,
      },
    });
  });

  it('refuses unknown settings, naming them, and explains the old signalingUrl', () => {
    expect(reasonOf({ colour: 'blue' })).toMatch(/unknown setting "colour"/);
    expect(reasonOf({ signaling: { mode: 'parley', urls: [], extra: 1 } })).toMatch(/signaling has an unknown setting "extra"/);
    expect(reasonOf({ signalingUrl: 'wss://a.example/ws' })).toMatch(/replaced by "signaling"/);
  });

  it('refuses a bad signaling block', () => {
    expect(reasonOf({ signaling: 'wss://a.example/ws' })).toMatch(/signaling must be an object/);
    expect(reasonOf({ signaling: { mode: 'carrier-pigeon' } })).toMatch(/signaling.mode/);
    expect(reasonOf({ signaling: { mode: 'parley', urls: ['https://a.example/ws'] } })).toMatch(/ws:\/\/ or wss:\/\//);
    expect(reasonOf({ signaling: { mode: 'parley', urls: ['not a url'] } })).toMatch(/is not a URL/);
    expect(reasonOf({ signaling: { mode: 'parley', urls: 'wss://a.example/ws' } })).toMatch(/a list of at most 16/);
    expect(reasonOf({ signaling: { mode: 'parley', urls: Array(17).fill('wss://a.example/ws') } })).toMatch(/a list of at most 16/);
  });

  it('refuses bad ICE servers and file limits', () => {
    expect(reasonOf({ iceServers: [{ urls: 'http://x.example' }] })).toMatch(/iceServers\[0\]\.urls/);
    expect(reasonOf({ iceServers: [{ urls: 'stun:x.example', username: 3 }] })).toMatch(/username/);
    expect(reasonOf({ maxFileBytes: -1 })).toMatch(/maxFileBytes/);
    expect(reasonOf({ maxFileBytes: 1.5 })).toMatch(/maxFileBytes/);
    expect(reasonOf([])).toMatch(/not a JSON object/);
  });
});

describe('resolveSignalingUrls', () => {
  it('uses /ws on the page’s own origin when none are configured, with the right scheme and no fragment', () => {
    expect(resolveSignalingUrls({ mode: 'parley', urls: [] }, 'https://host.example/app/#secret')).toEqual(['wss://host.example/ws']);
    expect(resolveSignalingUrls({ mode: 'parley', urls: [] }, 'http://127.0.0.1:8080/#secret')).toEqual(['ws://127.0.0.1:8080/ws']);
    expect(resolveSignalingUrls({ mode: 'parley', urls: ['wss://a.example/ws'] }, 'https://host.example/')).toEqual(['wss://a.example/ws']);
  });
});
