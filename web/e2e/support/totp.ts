// RFC 6238 TOTP (SHA-1, 30-second steps, 6 digits), computed by the test from the secret the
// page shows, as an authenticator app would. The server accepts the current step ±1 and each
// step once per user, so an `Authenticator` hands out codes of steps it has not used yet,
// waiting for the clock when it has to.

import { createHmac } from 'node:crypto';

const STEP_SECS = 30;
const DIGITS = 6;

export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export function hotp(secret: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', secret).update(message).digest();
  const offset = (digest[digest.length - 1] ?? 0) & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** DIGITS).padStart(DIGITS, '0');
}

export function currentStep(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000 / STEP_SECS);
}

export class Authenticator {
  readonly #secret: Buffer;
  #lastStep = -1;

  constructor(base32Secret: string) {
    this.#secret = base32Decode(base32Secret);
  }

  /** A code the server has not seen: the current step, or the next one (still within the
   *  server's ±1 window); waits when even that was used. */
  async code(): Promise<string> {
    let now = currentStep();
    while (this.#lastStep + 1 > now + 1) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      now = currentStep();
    }
    const step = Math.max(now, this.#lastStep + 1);
    this.#lastStep = step;
    return hotp(this.#secret, step);
  }

  /** A code that is certainly wrong. */
  wrongCode(): string {
    const right = hotp(this.#secret, currentStep());
    return right === '000000' ? '111111' : '000000';
  }
}
