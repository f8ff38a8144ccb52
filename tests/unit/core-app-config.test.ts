/** config.json parsed strictly: the defaults, every setting, and each kind of mistake refused with a reason. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FILE_BYTES, parseAppConfig, peerjsBrokerName, peerjsBrokerOrigin, resolveSignalingUrls } from '../../src/core/protocol/appConfig.ts';

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

describe('parseAppConfig, PeerJS mode', () => {
  const peerjs = (settings: Record<string, unknown>) => ({ signaling: { mode: 'peerjs', host: 'broker.example.org', port: 443, ...settings } });

  it('takes a PeerServer with defaults for path ("/"), key ("peerjs") and secure (wss)', () => {
    expect(parseAppConfig(peerjs({}))).toEqual({
      ok: true,
      config: { signaling: { mode: 'peerjs', host: 'broker.example.org', port: 443, path: '/', key: 'peerjs', secure: true }, iceServers: [], maxFileBytes: DEFAULT_MAX_FILE_BYTES },
    });
    const parsed = parseAppConfig(peerjs({ host: '127.0.0.1', port: 9000, path: '/myapp', key: 'parley-1', secure: false }));
    expect(parsed.ok && parsed.config.signaling).toEqual({ mode: 'peerjs', host: '127.0.0.1', port: 9000, path: '/myapp/', key: 'parley-1', secure: false });
    for (const host of ['localhost', '[::1]', 'a', 'x-1.example']) expect(parseAppConfig(peerjs({ host })).ok, host).toBe(true);
  });

  it('names the broker and its CSP origin from the parsed parts only', () => {
    const parsed = parseAppConfig(peerjs({ host: '127.0.0.1', port: 9000, path: '/myapp/', secure: false }));
    if (!parsed.ok || parsed.config.signaling.mode !== 'peerjs') throw new Error('refused');
    expect(peerjsBrokerOrigin(parsed.config.signaling)).toBe('ws://127.0.0.1:9000');
    expect(peerjsBrokerName(parsed.config.signaling)).toBe('127.0.0.1:9000/myapp/');
    const plain = parseAppConfig(peerjs({}));
    if (!plain.ok || plain.config.signaling.mode !== 'peerjs') throw new Error('refused');
    expect(peerjsBrokerOrigin(plain.config.signaling)).toBe('wss://broker.example.org:443');
    expect(peerjsBrokerName(plain.config.signaling)).toBe('broker.example.org:443');
  });

  it('refuses unknown keys, the other mode’s keys, and every bad value, saying which', () => {
    expect(reasonOf(peerjs({ urls: [] }))).toMatch(/signaling has an unknown setting "urls"/);
    expect(reasonOf(peerjs({ token: 'x' }))).toMatch(/unknown setting "token"/);
    for (const host of [undefined, '', '/', 'https://broker.example.org', 'broker.example.org:443', 'broker.example.org/path', 'a b', '-x.example', 'x.example.', 7, '[zz]']) {
      expect(reasonOf(peerjs({ host })), String(host)).toMatch(/signaling\.host/);
    }
    for (const port of [undefined, 0, 65_536, 1.5, '9000', null]) expect(reasonOf(peerjs({ port })), String(port)).toMatch(/signaling\.port/);
    for (const path of ['', 'myapp', 7, '/a b/', '/a?x=1', '/a//b/', '/../', `/${'a'.repeat(200)}`]) {
      expect(reasonOf(peerjs({ path })), String(path)).toMatch(/signaling\.path/);
    }
    for (const key of ['', 'a&id=b', 'k'.repeat(65), 3]) expect(reasonOf(peerjs({ key })), String(key)).toMatch(/signaling\.key/);
    expect(reasonOf(peerjs({ secure: 'yes' }))).toMatch(/signaling\.secure/);
    expect(reasonOf({ signaling: { mode: 'PeerJS' } })).toMatch(/"parley" or "peerjs"/);
  });
});

describe('resolveSignalingUrls', () => {
  it('uses /ws on the page’s own origin when none are configured, with the right scheme and no fragment', () => {
    expect(resolveSignalingUrls({ mode: 'parley', urls: [] }, 'https://host.example/app/#secret')).toEqual(['wss://host.example/ws']);
    expect(resolveSignalingUrls({ mode: 'parley', urls: [] }, 'http://127.0.0.1:8080/#secret')).toEqual(['ws://127.0.0.1:8080/ws']);
    expect(resolveSignalingUrls({ mode: 'parley', urls: ['wss://a.example/ws'] }, 'https://host.example/')).toEqual(['wss://a.example/ws']);
  });
});
