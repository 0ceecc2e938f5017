import { minimumKeyLength } from '../../events/signature.js';
import type { EnvReader } from './env-reader.js';

/** The keys of `createEventSigner`: secrets, never logged. */
export interface SigningKeys {
  readonly key: string;
  readonly previousKey?: string;
}

/**
 * TRUST_HMAC_KEY (signs and verifies) and TRUST_HMAC_PREVIOUS_KEY (verifies only, for rotation), read
 * the same way by the publisher and the consumer. Both are secrets: an issue names the variable and
 * never echoes the value.
 *
 * @param why when the key is required, what for (it goes into the message); `undefined` when optional.
 * @returns the keys, or `undefined` when no key is set (or the keys have a problem, then reported).
 */
export function readSigningKeys(reader: EnvReader, why: string | undefined, options: { readonly previous: boolean }): SigningKeys | undefined {
  const key = reader.value('TRUST_HMAC_KEY');
  const previous = options.previous ? reader.value('TRUST_HMAC_PREVIOUS_KEY') : undefined;
  const should = `at least ${String(minimumKeyLength)} characters, the same on the publisher and the consumer (e.g. the output of: openssl rand -base64 32)`;
  if (key === undefined) {
    if (why !== undefined) reader.problem(`TRUST_HMAC_KEY is required ${why}: ${should}`);
    if (previous !== undefined) reader.problem('TRUST_HMAC_PREVIOUS_KEY is set without TRUST_HMAC_KEY: the previous key only verifies, next to a current key');
    return undefined;
  }
  let ok = true;
  if (key.length < minimumKeyLength) {
    reader.problem(`TRUST_HMAC_KEY should hold ${should}`);
    ok = false;
  }
  if (previous !== undefined && previous.length < minimumKeyLength) {
    reader.problem(`TRUST_HMAC_PREVIOUS_KEY should hold the key TRUST_HMAC_KEY held before the rotation (${should})`);
    ok = false;
  }
  if (!ok) return undefined;
  return previous === undefined ? { key } : { key, previousKey: previous };
}
