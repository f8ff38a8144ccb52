/** First step of `npm test`: a Chromium for the browser tests, or a plain instruction and exit 1 before anything runs. */
import { ensureChromium } from './chromium.ts';

console.log(`Browser tests will use ${ensureChromium()}`);
