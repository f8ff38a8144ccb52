import { describe, expect, it } from 'vitest';
import { bytesEqual, utf8 } from '../../src/core/encoding.ts';
import { FrameOpener, FrameSealer, MAX_SEALED_PLAINTEXT_BYTES, type Direction } from '../../src/core/crypto/sessionCipher.ts';
import { FrameType, MAX_FRAME_BYTES, parseFrame, type Frame } from '../../src/core/protocol/frames.ts';
import { aesKey, flipBit } from './support/coreFixtures.ts';

const I2R: Direction = 'initiator-to-responder';
const R2I: Direction = 'responder-to-initiator';

function frame(bytes: Uint8Array): Frame {
  const parsed = parseFrame(bytes);
  if (!parsed.ok) throw new Error(`test frame does not parse: ${parsed.reason}`);
  return parsed.frame;
}

async function sealAll(sealer: FrameSealer, texts: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const text of texts) out.push(await sealer.seal(FrameType.message, utf8(text)));
  return out;
}

async function pair(direction: Direction = I2R): Promise<{ sealer: FrameSealer; opener: FrameOpener; key: CryptoKey }> {
  const key = await aesKey();
  return { key, sealer: new FrameSealer(key, direction), opener: new FrameOpener(key, direction) };
}

describe('FrameSealer / FrameOpener round trip', () => {
  it('opens several frames in order, of both sealed types', async () => {
    const { sealer, opener } = await pair();
    const plaintexts = [utf8('one'), utf8('two'), Uint8Array.of(1, 2, 3), utf8('four')];
    const types = [FrameType.message, FrameType.message, FrameType.receipts, FrameType.message] as const;
    for (let i = 0; i < plaintexts.length; i++) {
      const bytes = await sealer.seal(types[i] ?? FrameType.message, plaintexts[i] ?? new Uint8Array(0));
      const f = frame(bytes);
      expect(f.seq).toBe(BigInt(i));
      expect(f.type).toBe(types[i]);
      const opened = await opener.open(f);
      expect(opened).toEqual({ ok: true, plaintext: plaintexts[i] });
    }
  });

  it('works for both directions', async () => {
    const { sealer, opener } = await pair(R2I);
    expect(await opener.open(frame(await sealer.seal(FrameType.message, utf8('hi'))))).toEqual({ ok: true, plaintext: utf8('hi') });
  });

  it('hides the plaintext and never repeats a ciphertext for equal plaintexts', async () => {
    const { sealer } = await pair();
    const [a, b] = await sealAll(sealer, ['same text', 'same text']);
    if (a === undefined || b === undefined) throw new Error('unreachable');
    expect(bytesEqual(a.subarray(10), b.subarray(10))).toBe(false);
    expect(new TextDecoder().decode(a).includes('same text')).toBe(false);
  });

  it('two directions under one key use different IVs (same seq, same plaintext → different ciphertext)', async () => {
    const key = await aesKey();
    const a = await new FrameSealer(key, I2R).seal(FrameType.message, utf8('x'));
    const b = await new FrameSealer(key, R2I).seal(FrameType.message, utf8('x'));
    expect(bytesEqual(a.subarray(0, 10), b.subarray(0, 10))).toBe(true);
    expect(bytesEqual(a.subarray(10), b.subarray(10))).toBe(false);
  });

  it('seals the largest plaintext into a frame of exactly MAX_FRAME_BYTES, and refuses one byte more', async () => {
    const { sealer, opener } = await pair();
    const largest = new Uint8Array(MAX_SEALED_PLAINTEXT_BYTES).fill(7);
    const bytes = await sealer.seal(FrameType.message, largest);
    expect(bytes.length).toBe(MAX_FRAME_BYTES);
    const opened = await opener.open(frame(bytes));
    expect(opened.ok && bytesEqual(opened.plaintext, largest)).toBe(true);
    await expect(sealer.seal(FrameType.message, new Uint8Array(MAX_SEALED_PLAINTEXT_BYTES + 1))).rejects.toThrow();
  });

  it('seals an empty plaintext (the opener, not the cipher, leaves content rules to the message layer)', async () => {
    const { sealer, opener } = await pair();
    expect(await opener.open(frame(await sealer.seal(FrameType.receipts, new Uint8Array(0))))).toEqual({ ok: true, plaintext: new Uint8Array(0) });
  });
});

describe('FrameOpener refuses', () => {
  it('a replayed frame (the same frame twice)', async () => {
    const { sealer, opener } = await pair();
    const [f0] = await sealAll(sealer, ['once']);
    if (f0 === undefined) throw new Error('unreachable');
    expect((await opener.open(frame(f0))).ok).toBe(true);
    const replay = await opener.open(frame(f0));
    expect(replay.ok).toBe(false);
  });

  it('reordered frames (1 before 0)', async () => {
    const { sealer, opener } = await pair();
    const [, f1] = await sealAll(sealer, ['zero', 'one']);
    if (f1 === undefined) throw new Error('unreachable');
    expect((await opener.open(frame(f1))).ok).toBe(false);
  });

  it('a dropped frame (0 then 2)', async () => {
    const { sealer, opener } = await pair();
    const [f0, , f2] = await sealAll(sealer, ['zero', 'one', 'two']);
    if (f0 === undefined || f2 === undefined) throw new Error('unreachable');
    expect((await opener.open(frame(f0))).ok).toBe(true);
    expect((await opener.open(frame(f2))).ok).toBe(false);
  });

  it('a tampered type byte (chat relabelled as receipt, and back)', async () => {
    const { sealer, opener, key } = await pair();
    const chat = await sealer.seal(FrameType.message, utf8('hello'));
    const relabelled = chat.slice();
    relabelled[1] = FrameType.receipts;
    expect((await opener.open(frame(relabelled))).ok).toBe(false);
    const receipt = await sealer.seal(FrameType.receipts, new Uint8Array(16));
    const asChat = receipt.slice();
    asChat[1] = FrameType.message;
    expect((await new FrameOpener(key, I2R).open(frame(asChat))).ok).toBe(false);
  });

  it('a frame whose header sequence number was rewritten to the expected one', async () => {
    // Frame 1 relabelled as frame 0 passes the sequence check, so only the IV and the AAD can catch it.
    const { sealer, opener } = await pair();
    const [, f1] = await sealAll(sealer, ['zero', 'one']);
    if (f1 === undefined) throw new Error('unreachable');
    const relabelled = f1.slice();
    relabelled[9] = 0;
    expect(frame(relabelled).seq).toBe(0n);
    expect((await opener.open(frame(relabelled))).ok).toBe(false);
  });

  it('a tampered body at the start, middle, and in the tag', async () => {
    const { sealer, key } = await pair();
    const bytes = await sealer.seal(FrameType.message, utf8('a message of some length'));
    for (const position of [10, 11, 20, bytes.length - 17, bytes.length - 16, bytes.length - 1]) {
      const opener = new FrameOpener(key, I2R);
      expect((await opener.open(frame(flipBit(bytes, position)))).ok, `byte ${position}`).toBe(false);
    }
  });

  it('a truncated frame (one byte short, tag cut off, header only)', async () => {
    const { sealer, key } = await pair();
    const bytes = await sealer.seal(FrameType.message, utf8('truncate me'));
    for (const length of [bytes.length - 1, bytes.length - 16, 26, 10]) {
      const opener = new FrameOpener(key, I2R);
      expect((await opener.open(frame(bytes.subarray(0, length)))).ok, `length ${length}`).toBe(false);
    }
  });

  it('a frame reflected back in the other direction under the same key', async () => {
    const key = await aesKey();
    const bytes = await new FrameSealer(key, I2R).seal(FrameType.message, utf8('reflect me'));
    expect((await new FrameOpener(key, R2I).open(frame(bytes))).ok).toBe(false);
    // Sanity: the right direction opens the very same bytes.
    expect((await new FrameOpener(key, I2R).open(frame(bytes))).ok).toBe(true);
  });

  it('a frame sealed in another session (different key)', async () => {
    const one = await pair();
    const two = await pair();
    const bytes = await one.sealer.seal(FrameType.message, utf8('other session'));
    expect((await two.opener.open(frame(bytes))).ok).toBe(false);
  });
});

describe('FrameOpener state after a rejection', () => {
  it('opens nothing after a rejected frame, not even the genuine frames that follow or the genuine one it replaced', async () => {
    const { sealer, opener } = await pair();
    const [f0, f1] = await sealAll(sealer, ['zero', 'one']);
    if (f0 === undefined || f1 === undefined) throw new Error('unreachable');
    expect((await opener.open(frame(flipBit(f0, 12)))).ok).toBe(false); // authentication failure at the expected seq
    expect((await opener.open(frame(f1))).ok).toBe(false);
    expect((await opener.open(frame(f0))).ok).toBe(false);
  });

  it('a wrong sequence number also ends it', async () => {
    const { sealer, opener } = await pair();
    const [f0, f1] = await sealAll(sealer, ['zero', 'one']);
    if (f0 === undefined || f1 === undefined) throw new Error('unreachable');
    expect((await opener.open(frame(f1))).ok).toBe(false);
    expect((await opener.open(frame(f0))).ok).toBe(false);
  });
});

describe('FrameOpener with several frames opening at once', () => {
  it('opens frames handed over without waiting, and settles them in order', async () => {
    const { sealer, opener } = await pair();
    const texts = ['zero', 'one', 'two', 'three', 'four'];
    // Sealed at once too: the sealer numbers frames when seal is called.
    const frames = await Promise.all(texts.map((text) => sealer.seal(FrameType.message, utf8(text))));
    const settled: number[] = [];
    const results = await Promise.all(frames.map((bytes, index) => opener.open(frame(bytes)).then((result) => (settled.push(index), result))));
    expect(results).toEqual(texts.map((text) => ({ ok: true, plaintext: utf8(text) })));
    expect(settled).toEqual([0, 1, 2, 3, 4]);
  });

  it('a bad frame among them: those before it open, it and every later one fail', async () => {
    const { sealer, opener } = await pair();
    const frames = await sealAll(sealer, ['zero', 'one', 'two', 'three']);
    const handed = frames.map((bytes, index) => (index === 1 ? flipBit(bytes, bytes.length - 1) : bytes));
    const results = await Promise.all(handed.map((bytes) => opener.open(frame(bytes))));
    expect(results.map((result) => result.ok)).toEqual([true, false, false, false]);
  });
});
