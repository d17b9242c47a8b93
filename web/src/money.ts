// Money on the client: amounts are typed as decimals in the account's currency and sent as
// integer minor units. No floating point anywhere: the decimal string is split and checked.

/** docs/api.md: 1 ≤ amount ≤ 1_000_000_000_000_000 minor units (exactly representable in a double). */
export const AMOUNT_MINOR_MAX = 1_000_000_000_000_000;

/** ISO 4217 minor units of the currencies a Strongroom server may be configured for. */
export const CURRENCY_MINOR_UNITS: Readonly<Record<string, number>> = {
  EUR: 2, USD: 2, GBP: 2, CHF: 2, CAD: 2, AUD: 2, NZD: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2,
  CZK: 2, HUF: 2, RON: 2, BGN: 2, SGD: 2, HKD: 2, CNY: 2, INR: 2, MXN: 2, BRL: 2, ZAR: 2,
  TRY: 2, ILS: 2, AED: 2, SAR: 2, THB: 2, MYR: 2, PHP: 2, IDR: 2, TWD: 2,
  JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XAF: 0, XOF: 0, UGX: 0, PYG: 0,
  BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3, LYD: 3, IQD: 3,
};

/** The currencies a new account may be opened in (the server's default configuration). */
export const OPENABLE_CURRENCIES = ['EUR', 'USD', 'GBP'] as const;

export type AmountError =
  | 'empty'
  | 'format'
  | 'too_many_decimals'
  | 'not_positive'
  | 'too_large'
  | 'unknown_currency';

export type AmountResult = { ok: true; minor: number } | { ok: false; error: AmountError };

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** "12.34" EUR → 1234. Refuses more decimals than the currency has, zero, negatives,
 *  anything but digits and one dot, and amounts above `AMOUNT_MINOR_MAX`. */
export function parseAmount(text: string, currency: string): AmountResult {
  const exponent = CURRENCY_MINOR_UNITS[currency];
  if (exponent === undefined) return { ok: false, error: 'unknown_currency' };
  const trimmed = text.trim().replace(/[\s\u00a0_]/g, '');
  if (trimmed === '') return { ok: false, error: 'empty' };
  if (/^-\d*\.?\d*$/.test(trimmed)) return { ok: false, error: 'not_positive' };
  const match = DECIMAL.exec(trimmed.startsWith('+') ? trimmed.slice(1) : trimmed);
  if (!match) return { ok: false, error: 'format' };
  const whole = match[1] ?? '';
  const fraction = match[2] ?? '';
  // Even "5.000" EUR is refused: the person may have meant something else.
  if (fraction.length > exponent) return { ok: false, error: 'too_many_decimals' };
  const digits = (whole + fraction.padEnd(exponent, '0')).replace(/^0+(?=\d)/, '');
  // Compare as decimal strings before converting, so no amount ever loses precision.
  const max = String(AMOUNT_MINOR_MAX);
  if (digits.length > max.length || (digits.length === max.length && digits > max)) {
    return { ok: false, error: 'too_large' };
  }
  const minor = Number(digits);
  if (minor === 0) return { ok: false, error: 'not_positive' };
  return { ok: true, minor };
}

export const AMOUNT_ERROR_MESSAGES: Readonly<Record<AmountError, string>> = {
  empty: 'Enter an amount.',
  format: 'Enter an amount using digits and a dot, like 12.50.',
  too_many_decimals: 'This currency does not have that many decimals.',
  not_positive: 'Enter an amount greater than zero.',
  too_large: 'This amount is larger than Strongroom allows.',
  unknown_currency: 'This currency is not supported.',
};

/** A message for `too_many_decimals` that names the currency's limit. */
export function amountErrorMessage(error: AmountError, currency: string): string {
  if (error === 'too_many_decimals') {
    const exponent = CURRENCY_MINOR_UNITS[currency] ?? 0;
    return exponent === 0
      ? `${currency} amounts have no decimals.`
      : `${currency} amounts have at most ${exponent} decimal${exponent === 1 ? '' : 's'}.`;
  }
  return AMOUNT_ERROR_MESSAGES[error];
}

/** 123456 EUR → "1,234.56" (exact: integer arithmetic on the string of digits). */
export function formatMinor(minor: number, currency: string): string {
  const exponent = CURRENCY_MINOR_UNITS[currency] ?? 2;
  if (!Number.isSafeInteger(minor)) return String(minor);
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${exponent > 0 ? `.${fraction}` : ''}`;
}

/** "EUR 1,234.56" */
export function formatMoney(minor: number, currency: string): string {
  return `${currency} ${formatMinor(minor, currency)}`;
}
