// Client-side checks that mirror the server's rules (crates identity and api), so a person
// hears about a mistake before sending. The server stays the authority and checks again.

/** identity::password: 12 to 256 characters, zxcvbn score at least 3. */
export const PASSWORD_CHARS_MIN = 12;
export const PASSWORD_CHARS_MAX = 256;
export const PASSWORD_SCORE_MIN = 3;
export const DISPLAY_NAME_CHARS_MAX = 100;
export const LEGAL_NAME_CHARS_MAX = 200;
export const NATIONAL_ID_CHARS_MAX = 64;
export const ADDRESS_LINE_CHARS_MAX = 200;
export const CITY_CHARS_MAX = 100;
export const POSTAL_CODE_CHARS_MAX = 20;
export const MEMO_CHARS_MAX = 140;
export const PASSKEY_NAME_CHARS_MAX = 64;
const EMAIL_BYTES_MAX = 254;
const EMAIL_LOCAL_PART_BYTES_MAX = 64;
const EARLIEST_BIRTH_YEAR = 1900;

/** Characters as the server counts them (Unicode scalar values, like Rust's `chars()`). */
export function charCount(text: string): number {
  return [...text].length;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

const utf8 = new TextEncoder();

/** identity::email::parse, minus the NFKC details the server applies. */
export function isValidEmail(raw: string): boolean {
  const normalised = raw.trim().normalize('NFKC').toLowerCase();
  if (utf8.encode(normalised).length > EMAIL_BYTES_MAX) return false;
  const at = normalised.lastIndexOf('@');
  if (at < 0) return false;
  const local = normalised.slice(0, at);
  const domain = normalised.slice(at + 1);
  const localOk =
    local.length > 0 &&
    utf8.encode(local).length <= EMAIL_LOCAL_PART_BYTES_MAX &&
    !local.includes('@') &&
    !local.startsWith('.') &&
    !local.endsWith('.');
  const domainOk =
    domain.includes('.') &&
    !/^[.-]/.test(domain) &&
    !/[.-]$/.test(domain) &&
    !domain.includes('..') &&
    /^[\p{L}\p{N}.-]+$/u.test(domain);
  const printable = !/[\p{Cc}\s]/u.test(normalised);
  return localOk && domainOk && printable;
}

/** Trimmed, 1 to `max` characters, no control characters. */
export function checkName(raw: string, max: number): 'length' | 'invalid_characters' | null {
  const name = raw.trim();
  const chars = charCount(name);
  if (chars === 0 || chars > max) return 'length';
  if (hasControlCharacters(name)) return 'invalid_characters';
  return null;
}

export interface PasswordRules {
  longEnough: boolean;
  notTooLong: boolean;
  /** null while the strength estimator loads. */
  hardToGuess: boolean | null;
}

export type StrengthEstimator = (password: string, userInputs: string[]) => number;

/** The server's inputs to the strength check: the email's local part and the display name. */
export function strengthInputs(email: string, displayName: string): string[] {
  const local = email.trim().toLowerCase().split('@')[0] ?? '';
  return [local, displayName.trim()].filter((input) => input !== '');
}

export function checkPassword(
  password: string,
  userInputs: string[],
  estimate: StrengthEstimator | null,
): PasswordRules {
  const chars = charCount(password);
  const longEnough = chars >= PASSWORD_CHARS_MIN;
  const notTooLong = chars <= PASSWORD_CHARS_MAX;
  let hardToGuess: boolean | null = null;
  if (!longEnough || !notTooLong) hardToGuess = false;
  else if (estimate) hardToGuess = estimate(password, userInputs) >= PASSWORD_SCORE_MIN;
  return { longEnough, notTooLong, hardToGuess };
}

export function passwordAcceptable(rules: PasswordRules): boolean {
  return rules.longEnough && rules.notTooLong && rules.hardToGuess === true;
}

/** `YYYY-MM-DD`, a real date, from 1900 up to today. */
export function isValidDateOfBirth(value: string, today: Date = new Date()): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const real = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  const todayUtc = Date.UTC(today.getFullYear(), today.getMonth(), today.getDate());
  return real && year >= EARLIEST_BIRTH_YEAR && date.getTime() <= todayUtc;
}

/** National ids and postal codes: ASCII letters, digits, spaces and hyphens. */
export function isPlainCode(value: string): boolean {
  return /^[A-Za-z0-9 -]+$/.test(value);
}

/** ISO 3166-1 alpha-2 codes the server accepts (api::routes::profile::COUNTRIES). */
export const COUNTRY_CODES = (
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO ' +
  'BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ' +
  'ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL ' +
  'IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME ' +
  'MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH ' +
  'PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC ' +
  'TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
).split(' ');

export function countryName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}
