// Starts one real `strongroom` for the whole run: `init` into a temporary directory (CA keys in
// another), `serve` on a free loopback port whose https://localhost:PORT origin is also the
// configured public origin (WebAuthn's relying party and the CSRF origin check need it), the
// internal and ops listeners on port 0. Workers find it through environment variables.

import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const READY_TIMEOUT_MS = 60_000;

function binary(): string {
  const explicit = process.env.STRONGROOM_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(WEB_DIR, '..', process.env.CARGO_TARGET_DIR)
    : path.resolve(WEB_DIR, '../target');
  const candidate = explicit ?? path.join(targetDir, 'debug/strongroom');
  if (!existsSync(candidate)) {
    throw new Error(`no strongroom binary at ${candidate}: run \`cargo xtask test-web\` (or set STRONGROOM_BIN)`);
  }
  return candidate;
}

/** A port the kernel says is free right now (the server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** base64 SHA-256 of the server key's SubjectPublicKeyInfo: Chromium trusts this key only. */
function spkiFingerprint(certificatePem: string): string {
  const der = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const strongroom = binary();
  const dir = mkdtempSync(path.join(tmpdir(), 'strongroom-web-e2e-'));
  const caDir = mkdtempSync(path.join(tmpdir(), 'strongroom-web-e2e-ca-'));
  execFileSync(strongroom, ['init', '--force', '--dir', dir, '--ca-dir', caDir], { stdio: 'ignore' });
  const port = await freePort();
  const origin = `https://localhost:${port}`;
  const log = path.join(dir, 'server.log');
  const server = spawn(strongroom, ['serve', '--config', path.join(dir, 'strongroom.toml')], {
    env: {
      ...process.env,
      STRONGROOM__SERVER__PUBLIC_ADDR: `127.0.0.1:${port}`,
      STRONGROOM__SERVER__PUBLIC_ORIGIN: origin,
      STRONGROOM__SERVER__INTERNAL_ADDR: '127.0.0.1:0',
      STRONGROOM__SERVER__OPS_ADDR: '127.0.0.1:0',
      // Every browser of the suite signs in from 127.0.0.1: one network, far more sign-ins
      // than one office would make in a minute. The other classes keep their defaults.
      STRONGROOM__RATE_LIMITS__AUTH__PER_MINUTE: '100000',
      STRONGROOM__RATE_LIMITS__AUTH__BURST: '10000',
      // Screening refuses what it matches, so the browser journeys also measure its false
      // positives.
      STRONGROOM__PROTECTION__SCREENING: 'block',
      // The `payments` service also reads the notifications outbox, as the operator's mailer
      // would: the lifecycle journeys follow the links in the mails it would send.
      STRONGROOM__SERVICES__PAYMENTS__SCOPES: '["ledger:deposit","ledger:withdraw","ledger:read","notifications:read"]',
      STRONGROOM_LOG: process.env.STRONGROOM_LOG ?? 'warn',
    },
    stdio: ['ignore', 'pipe', openSync(log, 'w')],
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strongroom did not start; see ${log}`)), READY_TIMEOUT_MS);
    server.once('exit', (code) => reject(new Error(`strongroom exited with ${code}: ${readFileSync(log, 'utf8')}`)));
    if (!server.stdout) throw new Error('strongroom has no stdout');
    createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.startsWith('strongroom listening ')) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
  const internal = /internal=(\S+)/.exec(ready)?.[1] ?? '';
  process.env.STRONGROOM_URL = origin;
  process.env.STRONGROOM_INTERNAL_URL = internal;
  process.env.STRONGROOM_DIR = dir;
  process.env.STRONGROOM_SPKI = spkiFingerprint(readFileSync(path.join(dir, 'pki/server.pem'), 'utf8'));

  return async () => {
    server.kill('SIGTERM');
    await new Promise((resolve) => {
      if (server.exitCode !== null) resolve(null);
      else server.once('exit', resolve);
    });
    const results = path.join(WEB_DIR, 'test-results');
    mkdirSync(results, { recursive: true });
    copyFileSync(log, path.join(results, 'server.log'));
    rmSync(dir, { recursive: true, force: true });
    rmSync(caDir, { recursive: true, force: true });
  };
}
