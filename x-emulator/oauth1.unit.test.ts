import { describe, expect, it } from 'vitest';
import { hmacSha1Signature, signatureBaseString, verifyOAuth1 } from './oauth1.js';

// The worked example from X's "Creating a signature" documentation.
const oauth = {
  oauth_consumer_key: 'xvz1evFS4wEEPTGEFPHBog',
  oauth_nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
  oauth_signature_method: 'HMAC-SHA1',
  oauth_timestamp: '1318622958',
  oauth_token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
  oauth_version: '1.0',
};
const consumerSecret = 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw';
const tokenSecret = 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE';
const params: [string, string][] = [
  ['include_entities', 'true'],
  ['status', 'Hello Ladies + Gentlemen, a signed OAuth request!'],
];
const url = 'https://api.twitter.com/1.1/statuses/update.json';
const expected = 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=';

function header(signature: string): string {
  const all = { ...oauth, oauth_signature: signature };
  return `OAuth ${Object.entries(all)
    .map(([k, v]) => `${k}="${encodeURIComponent(v)}"`)
    .join(', ')}`;
}

const secrets = { consumerKey: oauth.oauth_consumer_key, consumerSecret, token: oauth.oauth_token, tokenSecret };

describe('OAuth 1.0a HMAC-SHA1', () => {
  it('reproduces the documented signature', () => {
    const base = signatureBaseString('POST', url, [...Object.entries(oauth), ...params]);
    expect(hmacSha1Signature(base, consumerSecret, tokenSecret)).toBe(expected);
  });

  it('accepts the documented request', () => {
    expect(verifyOAuth1({ method: 'POST', baseUrl: url, params, authorization: header(expected) }, secrets)).toEqual({ ok: true });
  });

  it('refuses a request whose parameters were changed after signing', () => {
    const tampered: [string, string][] = [['include_entities', 'false'], params[1]!];
    expect(verifyOAuth1({ method: 'POST', baseUrl: url, params: tampered, authorization: header(expected) }, secrets)).toEqual({
      ok: false,
      reason: 'bad signature',
    });
  });

  it('refuses an unknown access token', () => {
    const verdict = verifyOAuth1({ method: 'POST', baseUrl: url, params, authorization: header(expected) }, { ...secrets, token: 'other' });
    expect(verdict).toEqual({ ok: false, reason: 'unknown access token' });
  });
});
