/**
 * A rough, dependency-free strength hint for a new passphrase, in plain words. It estimates how many guesses
 * a patient attacker with the stored vault would need; it is a nudge towards several random words, not a promise.
 */

export type StrengthScore = 0 | 1 | 2 | 3 | 4;

export interface PassphraseStrength {
  readonly score: StrengthScore;
  /** One or two sentences for the person choosing it. */
  readonly hint: string;
}

/** Random words from a list of a few thousand give about 12.5 bits each (Diceware: 12.9). */
const BITS_PER_WORD = 12.5;
/** Characters people choose are far from random; half of the ideal figure is still generous. */
const CHARACTER_BITS_DISCOUNT = 0.5;
const SCORE_FLOOR_BITS: readonly number[] = [25, 40, 55, 70];

/** Matched after lower-casing and dropping non-letters: "P@ssw0rd1!" is "psswrd" is still "password". */
const VERY_COMMON = new Set([
  'password', 'psswrd', 'passwrd', 'qwerty', 'qwertz', 'azerty', 'letmein', 'iloveyou', 'admin', 'welcome', 'monkey',
  'dragon', 'football', 'baseball', 'sunshine', 'princess', 'master', 'shadow', 'superman', 'trustno', 'secret',
  'abc', 'abcdef', 'asdf', 'asdfgh', 'zxcvbn', 'parley', 'passphrase', 'changeme', 'hello', 'login', 'starwars',
]);

const HINTS: Readonly<Record<StrengthScore, string>> = {
  0: 'Far too easy to guess. Use four or more random words, like “lamp orbit velvet cactus”.',
  1: 'Easy to guess. Four or five random words are easy to remember and much harder to guess.',
  2: 'Fair. One or two more random words would make it much stronger.',
  3: 'Good. Nobody can reset it for you, so make sure you will remember it.',
  4: 'Strong. Nobody can reset it for you, so make sure you will remember it.',
};

function characterPoolSize(text: string): number {
  let pool = 0;
  if (/[a-z]/.test(text)) pool += 26;
  if (/[A-Z]/.test(text)) pool += 26;
  if (/[0-9]/.test(text)) pool += 10;
  if (/[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/.test(text)) pool += 32;
  if (/[^\x00-\x7f]/u.test(text)) pool += 100;
  return Math.max(pool, 1);
}

/** Characters that repeat or continue a run of their neighbour ("aaaa", "1234", "dcba") count a quarter. */
function effectiveLength(chars: readonly string[]): number {
  let length = 0;
  for (let i = 0; i < chars.length; i++) {
    const here = chars[i]?.codePointAt(0) ?? 0;
    const before = i > 0 ? (chars[i - 1]?.codePointAt(0) ?? -10) : -10;
    length += Math.abs(here - before) <= 1 ? 0.25 : 1;
  }
  return length;
}

function estimateBits(passphrase: string): number {
  const words = passphrase
    .toLowerCase()
    .split(/[\s\-_.,;:+/]+/u)
    .filter((word) => /\p{L}{2,}/u.test(word));
  const distinctWords = [...new Set(words)];
  // A word said again adds nothing: "dog dog dog dog" is as easy to guess as "dog".
  const text = words.length >= 2 && distinctWords.length < words.length ? distinctWords.join(' ') : passphrase;
  const characterBits = effectiveLength([...text]) * Math.log2(characterPoolSize(text)) * CHARACTER_BITS_DISCOUNT;
  // Three or more words are guessed as words, not characters: a dictionary attack is the cheaper one then.
  return distinctWords.length >= 3 ? Math.min(characterBits * 2, distinctWords.length * BITS_PER_WORD) : characterBits;
}

export function passphraseStrength(passphrase: string): PassphraseStrength {
  const normalized = passphrase.normalize('NFKC');
  if (normalized.trim() === '') return { score: 0, hint: 'Choose a passphrase.' };
  const lettersOnly = normalized.toLowerCase().replace(/[^\p{L}]/gu, '');
  if (lettersOnly === '' || VERY_COMMON.has(lettersOnly)) {
    const hint = lettersOnly === '' ? 'Digits or symbols alone are quickly guessed. ' : 'This is one of the most common passwords. ';
    return { score: 0, hint: hint + HINTS[0] };
  }
  const bits = estimateBits(normalized);
  const score = SCORE_FLOOR_BITS.filter((floor) => bits >= floor).length;
  const clamped: StrengthScore = score <= 0 ? 0 : score === 1 ? 1 : score === 2 ? 2 : score === 3 ? 3 : 4;
  return { score: clamped, hint: HINTS[clamped] };
}
