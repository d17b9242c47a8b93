// The client's checks mirror the server's rules.
import { describe, expect, it } from 'vitest';
import { checkName, checkPassword, isValidDateOfBirth, isValidEmail, passwordAcceptable } from './validation';
import { base64urlToBytes, bytesToBase64url, creationOptions, requestOptions } from './webauthn';

describe('validation', () => {
  it('accepts and refuses emails like identity::email', () => {
    for (const good of ['a@example.com', ' Alice@Example.COM ', 'x.y+z@sub.example.co.uk']) expect(isValidEmail(good), good).toBe(true);
    for (const bad of ['', 'a', 'a@b', '@example.com', '.a@example.com', 'a.@example.com', 'a@-x.com', 'a@x..com', 'a b@example.com'])
      expect(isValidEmail(bad), bad).toBe(false);
  });

  it('checks names and dates', () => {
    expect(checkName('  Ann ', 100)).toBeNull();
    expect(checkName('   ', 100)).toBe('length');
    expect(checkName('x'.repeat(101), 100)).toBe('length');
    expect(checkName('a\u0007b', 100)).toBe('invalid_characters');
    const today = new Date(2026, 10, 27);
    expect(isValidDateOfBirth('1990-02-28', today)).toBe(true);
    expect(isValidDateOfBirth('1990-02-30', today)).toBe(false);
    expect(isValidDateOfBirth('1899-12-31', today)).toBe(false);
    expect(isValidDateOfBirth('2026-11-28', today)).toBe(false);
    expect(isValidDateOfBirth('90-01-01', today)).toBe(false);
  });

  it('applies the password rules: length first, then strength', () => {
    const strong = () => 4;
    const weak = () => 1;
    expect(passwordAcceptable(checkPassword('correct horse battery staple', [], strong))).toBe(true);
    expect(passwordAcceptable(checkPassword('correct horse battery staple', [], weak))).toBe(false);
    expect(checkPassword('short', [], strong)).toEqual({ longEnough: false, notTooLong: true, hardToGuess: false });
    expect(checkPassword('x'.repeat(257), [], strong).notTooLong).toBe(false);
    // Characters, not UTF-16 units: 12 emoji are 12 characters.
    expect(checkPassword('😀'.repeat(12), [], strong).longEnough).toBe(true);
    expect(checkPassword('long enough password', [], null).hardToGuess).toBeNull();
  });
});

describe('webauthn conversions', () => {
  it('round-trip base64url', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const text = bytesToBase64url(bytes);
    expect(text).not.toMatch(/[+/=]/);
    expect([...base64urlToBytes(text)]).toEqual([...bytes]);
  });

  it('decode the binary members of the server options', () => {
    const create = creationOptions({
      challenge: '_jALIBqPi_kQCCV28r8lWhuULo4FNFk-FHUc5zSpODM',
      user: { id: 'AaIdNVN4dtSCFeG_RJ8zjQ', name: 'a@example.com', displayName: 'A' },
      excludeCredentials: [{ type: 'public-key', id: 'AQID' }],
      rp: { id: 'localhost', name: 'Strongroom' },
    });
    expect((create.challenge as Uint8Array).length).toBe(32);
    expect((create.user.id as Uint8Array).length).toBe(16);
    expect([...(create.excludeCredentials?.[0]?.id as Uint8Array)]).toEqual([1, 2, 3]);
    const get = requestOptions({ challenge: 'AQID', allowCredentials: [], rpId: 'localhost' });
    expect([...(get.challenge as Uint8Array)]).toEqual([1, 2, 3]);
    expect(get.rpId).toBe('localhost');
  });
});
