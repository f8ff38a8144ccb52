/** Key pair sources for the room, to show what RSA key generation costs on the way to Secure (see KeyPairMode). */
import { generateSessionKeyPair, type SessionKeyPair } from '../../src/core/crypto/handshake.ts';
import type { KeyPairMode } from './benchApi.ts';

/** Long enough that the next pair is not competing for the CPU while the handshake runs. */
const DEFER_NEXT_MS = 5000;

export function parseKeyPairMode(value: string | null): KeyPairMode {
  switch (value) {
    case null:
    case 'app':
      return 'app';
    case 'premade':
      return value;
    default:
      throw new Error(`unknown key pair mode ${value}`);
  }
}

/** `premade` must be given for mode 'premade': it is handed out once, and later pairs come late. */
export function keyPairSource(mode: KeyPairMode, premade: SessionKeyPair | null): () => Promise<SessionKeyPair> {
  if (mode === 'app') return generateSessionKeyPair;
  if (premade === null) throw new Error('premade key pair missing');
  let handedOut = false;
  return () => {
    if (!handedOut) {
      handedOut = true;
      return Promise.resolve(premade);
    }
    return new Promise((resolve) => setTimeout(resolve, DEFER_NEXT_MS)).then(() => generateSessionKeyPair());
  };
}
