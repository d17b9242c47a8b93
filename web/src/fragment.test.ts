import { describe, expect, it } from 'vitest';
import { tokenFromFragment, withoutFragment } from './fragment';

const TOKEN = 'q1W2e3R4t5Y6u7I8o9P0a_S-dFgHjKlZxCvBnM1234';

describe('tokenFromFragment', () => {
  it('reads the token of a mail link', () => {
    expect(tokenFromFragment(`#token=${TOKEN}`)).toBe(TOKEN);
    expect(tokenFromFragment(`token=${TOKEN}`)).toBe(TOKEN);
  });

  it('reads it among other parameters', () => {
    expect(tokenFromFragment(`#utm=mail&token=${TOKEN}&x=1`)).toBe(TOKEN);
  });

  it('tolerates a percent-encoded token and surrounding spaces', () => {
    expect(tokenFromFragment(`#token=%20${TOKEN}%20`)).toBe(TOKEN);
  });

  it('has nothing without a fragment or a token parameter', () => {
    expect(tokenFromFragment('')).toBeNull();
    expect(tokenFromFragment('#')).toBeNull();
    expect(tokenFromFragment('#main')).toBeNull();
    expect(tokenFromFragment('#token=')).toBeNull();
  });

  it('refuses what cannot be a token', () => {
    expect(tokenFromFragment('#token=short')).toBeNull();
    expect(tokenFromFragment(`#token=${TOKEN}<script>`)).toBeNull();
    expect(tokenFromFragment(`#token=${'a'.repeat(513)}`)).toBeNull();
    expect(tokenFromFragment(`#token=${TOKEN}%2F`)).toBeNull();
  });
});

describe('withoutFragment', () => {
  it('keeps the path and query only', () => {
    expect(withoutFragment({ pathname: '/reset-password', search: '' })).toBe('/reset-password');
    expect(withoutFragment({ pathname: '/verify-email', search: '?lang=en' })).toBe('/verify-email?lang=en');
  });
});
