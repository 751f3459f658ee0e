import { createHash, timingSafeEqual } from 'node:crypto';
import { bearer } from '../auth/token.js';
import type { ApiKey } from '../config.js';

/**
 * The API keys, checked in constant time: keys are compared as SHA-256 digests (so every
 * comparison is 32 bytes whatever the lengths), against every configured key without stopping
 * at a match, so the time taken says nothing about which key, or how much of one, was right.
 */
export class ApiKeys {
  private readonly digests: { name: string; digest: Buffer }[];

  constructor(keys: readonly ApiKey[]) {
    this.digests = keys.map(({ name, key }) => ({ name, digest: digest(key) }));
  }

  /** The name of the key an `Authorization: Bearer KEY` header carries, or null for none or an unknown one. */
  identify(authorization: string | undefined): string | null {
    const key = bearer(authorization);
    if (key === null) return null;
    const given = digest(key);
    let found: string | null = null;
    for (const { name, digest: known } of this.digests) {
      if (timingSafeEqual(given, known)) found = name;
    }
    return found;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
