// Passkeys: the server's WebAuthn options (JSON, binary fields as base64url) turned into what
// navigator.credentials wants, and the browser's credentials back into JSON for the server.

/* The option objects come from the server as JSON; only their binary members are converted. */
type Json = Record<string, unknown>;

export function base64urlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

export function bytesToBase64url(data: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] {
  if (!Array.isArray(list)) return [];
  return list.map((item: Json) => ({
    ...(item as object),
    type: 'public-key',
    id: base64urlToBytes(String(item.id)),
  })) as PublicKeyCredentialDescriptor[];
}

/** `publicKey` of `/v1/mfa/webauthn/register/options` → `navigator.credentials.create`. */
export function creationOptions(publicKey: Json): PublicKeyCredentialCreationOptions {
  const user = publicKey.user as Json;
  return {
    ...(publicKey as object),
    challenge: base64urlToBytes(String(publicKey.challenge)),
    user: { ...(user as object), id: base64urlToBytes(String(user.id)) },
    excludeCredentials: descriptors(publicKey.excludeCredentials),
  } as unknown as PublicKeyCredentialCreationOptions;
}

/** `publicKey` of a login or step-up options call → `navigator.credentials.get`. */
export function requestOptions(publicKey: Json): PublicKeyCredentialRequestOptions {
  return {
    ...(publicKey as object),
    challenge: base64urlToBytes(String(publicKey.challenge)),
    allowCredentials: descriptors(publicKey.allowCredentials),
  } as unknown as PublicKeyCredentialRequestOptions;
}

/** A new credential as the server's `credential` member (WebAuthn Level 3 names). */
export function registrationJson(credential: PublicKeyCredential): Json {
  const response = credential.response as AuthenticatorAttestationResponse;
  const json: Json = {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: bytesToBase64url(response.attestationObject),
      clientDataJSON: bytesToBase64url(response.clientDataJSON),
      ...(typeof response.getTransports === 'function' ? { transports: response.getTransports() } : {}),
    },
    extensions: credential.getClientExtensionResults() as Json,
  };
  return json;
}

/** An assertion as the server's `credential` member. */
export function assertionJson(credential: PublicKeyCredential): Json {
  const response = credential.response as AuthenticatorAssertionResponse;
  const responseJson: Json = {
    authenticatorData: bytesToBase64url(response.authenticatorData),
    clientDataJSON: bytesToBase64url(response.clientDataJSON),
    signature: bytesToBase64url(response.signature),
  };
  if (response.userHandle) responseJson.userHandle = bytesToBase64url(response.userHandle);
  return {
    id: credential.id,
    rawId: bytesToBase64url(credential.rawId),
    type: credential.type,
    response: responseJson,
    extensions: credential.getClientExtensionResults() as Json,
  };
}

export interface Ceremony {
  ceremony_id: string;
  publicKey: Json;
}

export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function';
}

/** Runs `navigator.credentials.create` for a registration ceremony. */
export async function createCredential(ceremony: Ceremony): Promise<Json> {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(ceremony.publicKey) });
  if (!(credential instanceof PublicKeyCredential)) throw new DOMException('No credential', 'NotAllowedError');
  return registrationJson(credential);
}

/** Runs `navigator.credentials.get` for a login or step-up ceremony. */
export async function getAssertion(ceremony: Ceremony): Promise<Json> {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(ceremony.publicKey) });
  if (!(credential instanceof PublicKeyCredential)) throw new DOMException('No credential', 'NotAllowedError');
  return assertionJson(credential);
}

/** What a failed browser ceremony means, in words. */
export function passkeyErrorMessage(error: unknown): string | null {
  if (!(error instanceof DOMException)) return null;
  switch (error.name) {
    case 'NotAllowedError':
      return 'The passkey request was cancelled or timed out. Try again when you are ready.';
    case 'InvalidStateError':
      return 'This device already holds a passkey for your account.';
    case 'SecurityError':
      return 'Passkeys cannot be used on this address.';
    case 'NotSupportedError':
      return 'This browser or device cannot use passkeys.';
    default:
      return 'The passkey could not be used. Try again, or use another way.';
  }
}
