// Amounts typed as decimals become exact integer minor units, and bad amounts never leave
// the browser.
import { describe, expect, it } from 'vitest';
import { AMOUNT_MINOR_MAX, formatMinor, formatMoney, parseAmount, type AmountResult } from './money';

function check(text: string, currency: string, expected: AmountResult): void {
  expect(parseAmount(text, currency), `${JSON.stringify(text)} ${currency}`).toEqual(expected);
}

describe('parseAmount', () => {
  it('turns decimals into integer minor units by the currency exponent', () => {
    check('12.34', 'EUR', { ok: true, minor: 1234 });
    check('12.3', 'EUR', { ok: true, minor: 1230 });
    check('12', 'EUR', { ok: true, minor: 1200 });
    check('0.01', 'USD', { ok: true, minor: 1 });
    check(' 1 000.50 ', 'GBP', { ok: true, minor: 100050 });
    check('007.10', 'EUR', { ok: true, minor: 710 });
    check('1500', 'JPY', { ok: true, minor: 1500 });
    check('1.234', 'KWD', { ok: true, minor: 1234 });
    // No floating point: 0.1 + 0.2 style errors cannot happen.
    check('0.29', 'EUR', { ok: true, minor: 29 });
    check('1.15', 'EUR', { ok: true, minor: 115 });
    check('4.35', 'EUR', { ok: true, minor: 435 });
  });

  it('refuses more decimals than the currency has', () => {
    check('1.234', 'EUR', { ok: false, error: 'too_many_decimals' });
    check('1.000', 'EUR', { ok: false, error: 'too_many_decimals' });
    check('1.5', 'JPY', { ok: false, error: 'too_many_decimals' });
    check('0.0001', 'KWD', { ok: false, error: 'too_many_decimals' });
  });

  it('refuses zero and negative amounts', () => {
    check('0', 'EUR', { ok: false, error: 'not_positive' });
    check('0.00', 'EUR', { ok: false, error: 'not_positive' });
    check('-5', 'EUR', { ok: false, error: 'not_positive' });
    check('-0.01', 'EUR', { ok: false, error: 'not_positive' });
  });

  it('refuses amounts above the server maximum, without losing precision', () => {
    const max = AMOUNT_MINOR_MAX; // 10^15 minor units = 10^13 EUR
    check('10000000000000', 'EUR', { ok: true, minor: max });
    check('10000000000000.00', 'EUR', { ok: true, minor: max });
    check('10000000000000.01', 'EUR', { ok: false, error: 'too_large' });
    check('9999999999999.99', 'EUR', { ok: true, minor: max - 1 });
    check('1000000000000000', 'JPY', { ok: true, minor: max });
    check('1000000000000001', 'JPY', { ok: false, error: 'too_large' });
    check('99999999999999999999999', 'EUR', { ok: false, error: 'too_large' });
  });

  it('refuses anything that is not a plain decimal', () => {
    for (const text of ['1,50', '1e5', '0x10', '1.2.3', 'ten', '.5', '5.', '12 EUR', '€12', 'NaN', 'Infinity', '1/2']) {
      check(text, 'EUR', { ok: false, error: 'format' });
    }
    check('', 'EUR', { ok: false, error: 'empty' });
    check('   ', 'EUR', { ok: false, error: 'empty' });
    check('5', 'XYZ', { ok: false, error: 'unknown_currency' });
  });
});

describe('formatMinor', () => {
  it('formats exactly, with grouping', () => {
    expect(formatMinor(123456, 'EUR')).toBe('1,234.56');
    expect(formatMinor(5, 'EUR')).toBe('0.05');
    expect(formatMinor(0, 'USD')).toBe('0.00');
    expect(formatMinor(-1050, 'EUR')).toBe('-10.50');
    expect(formatMinor(1500, 'JPY')).toBe('1,500');
    expect(formatMinor(1234, 'KWD')).toBe('1.234');
    expect(formatMinor(AMOUNT_MINOR_MAX, 'EUR')).toBe('10,000,000,000,000.00');
    expect(formatMoney(999999, 'GBP')).toBe('GBP 9,999.99');
  });

  it('round-trips with parseAmount', () => {
    for (const minor of [1, 99, 100, 123456789, AMOUNT_MINOR_MAX]) {
      expect(parseAmount(formatMinor(minor, 'EUR').replace(/,/g, ''), 'EUR')).toEqual({ ok: true, minor });
    }
  });
});
