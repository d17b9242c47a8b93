// Wire types of the endpoints the app calls (docs/api.md and /openapi.json).

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Me {
  user_id: string;
  email: string;
  display_name: string;
  roles: string[];
  mfa: { totp: boolean; webauthn: boolean };
  /** `active`; `quarantined` once account protection lands. */
  status: string;
  /** True once the owner opened a verification link sent to `email`. */
  email_verified: boolean;
}

export interface MfaChallenge {
  mfa_required: true;
  mfa_ticket: string;
  methods: string[];
}

export interface Account {
  id: string;
  currency: string;
  balance: number;
  /** The balance less money reserved by holds (a card payment not yet settled). */
  available: number;
  status: string;
  created_at: string;
}

export interface Entry {
  id: string;
  transfer_id: string;
  amount: number;
  direction: 'debit' | 'credit';
  balance_after: number;
  created_at: string;
}

export interface Transfer {
  id: string;
  status: string;
  from_account_id: string;
  to_account_id: string;
  amount: number;
  currency: string;
  memo: string | null;
  created_at: string;
}

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  country: string;
}

export interface Profile {
  legal_name: string;
  date_of_birth: string;
  national_id_masked: string;
  national_id?: string;
  address: Address;
}

export interface ProfileInput {
  legal_name: string;
  date_of_birth: string;
  national_id: string;
  address: Address;
}

export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface Factors {
  totp: boolean;
  passkeys: Passkey[];
  recovery_codes_remaining: number;
}

export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
}

export interface SessionInfo {
  id: string;
  created_at: string;
  last_seen_at: string;
  ip: string;
  user_agent: string;
  location: string | null;
  current: boolean;
}

export interface SecurityEvent {
  id: string;
  kind: string;
  created_at: string;
  ip: string;
  user_agent: string;
}

/** `GET /v1/me/export`: everything held about the signed-in user (kept as the server sends it,
 *  only the fields the app reads are typed). */
export interface DataExport {
  exported_at: string;
  user: Me;
  profile: Profile | null;
  sessions: unknown[];
  security_events: unknown[];
  accounts: { account: Account; entries: unknown[] }[];
  truncated: boolean;
}
