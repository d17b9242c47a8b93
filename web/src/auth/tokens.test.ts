// The access token lives only in memory, is renewed before it expires, and concurrent
// refreshes — in one tab or across tabs — never present the same refresh cookie twice.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  REFRESH_LOCK_NAME,
  REFRESH_PATH,
  TokenManager,
  type SessionEvent,
  type TabMessage,
  type TokenEnvironment,
} from './tokens';

interface Timer {
  at: number;
  task: () => void;
}

/** A fake browser: a clock, timers, one origin-wide lock shared by every "tab", and a
 *  server that rotates a refresh cookie and detects reuse like the real one. */
class World {
  now = 1_000_000;
  timers = new Map<number, Timer>();
  nextTimer = 1;
  lockQueue: Promise<unknown> = Promise.resolve();
  /** The refresh cookie in the browser's jar, and the one the server would accept. */
  jar = 'rt-1';
  current = 'rt-1';
  issued = 1;
  presented: string[] = [];
  revoked = false;
  messages: { from: TokenManager; message: TabMessage }[] = [];
  tabs: TokenManager[] = [];
  offline = false;
  refreshDelayMs = 0;

  tab(): TokenManager {
    let self: TokenManager | null = null;
    const env: TokenEnvironment = {
      fetch: (input, init) => this.fetch(input, init),
      now: () => this.now,
      setTimeout: (task, delayMs) => {
        const id = this.nextTimer++;
        this.timers.set(id, { at: this.now + delayMs, task });
        return id;
      },
      clearTimeout: (id) => {
        this.timers.delete(id);
      },
      withLock: <T,>(name: string, task: () => Promise<T>) => {
        expect(name).toBe(REFRESH_LOCK_NAME);
        const run = this.lockQueue.then(task, task);
        this.lockQueue = run.catch(() => undefined);
        return run;
      },
      post: (message) => {
        if (!self) return;
        this.messages.push({ from: self, message });
        for (const other of this.tabs) if (other !== self) other.receive(message);
      },
    };
    self = new TokenManager(env);
    this.tabs.push(self);
    return self;
  }

  async fetch(input: string, init: RequestInit): Promise<Response> {
    if (this.offline) throw new TypeError('Failed to fetch');
    if (input === REFRESH_PATH) {
      expect(init.credentials).toBe('same-origin');
      expect(new Headers(init.headers).get('authorization')).toBeNull();
      const presented = this.jar;
      this.presented.push(presented);
      if (this.refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.refreshDelayMs));
      if (this.revoked) return problem(401, 'invalid_refresh_token');
      if (presented !== this.current) {
        this.revoked = true;
        return problem(401, 'refresh_token_reused');
      }
      this.issued += 1;
      this.current = `rt-${this.issued}`;
      this.jar = this.current;
      return json({ access_token: `at-${this.issued}`, token_type: 'Bearer', expires_in: 900 });
    }
    if (input === '/v1/auth/logout') {
      this.revoked = true;
      return new Response(null, { status: 204 });
    }
    return problem(404, 'not_found');
  }

  /** Moves the clock, running due timers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].task();
      await flush();
    }
    this.now = end;
  }
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
}

function problem(status: number, code: string): Response {
  return new Response(JSON.stringify({ status, code, title: code }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}

async function flush(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await Promise.resolve();
}

function events(manager: TokenManager): SessionEvent[] {
  const seen: SessionEvent[] = [];
  manager.subscribe((event) => seen.push(event));
  return seen;
}

let world: World;

beforeEach(() => {
  world = new World();
});

describe('TokenManager', () => {
  it('signs in silently through the cookie on load and keeps the token only in memory', async () => {
    const tab = world.tab();
    const seen = events(tab);
    expect(tab.accessToken).toBeNull();
    expect(await tab.refresh()).toBe('refreshed');
    expect(tab.accessToken).toBe('at-2');
    expect(seen).toEqual([{ type: 'signed-in' }]);
    // Nothing but the manager's private field holds it (the browser tests check storage).
    expect(JSON.stringify(tab)).not.toContain('at-2');
  });

  it('renews the access token before it expires', async () => {
    const tab = world.tab();
    await tab.refresh();
    expect(tab.accessToken).toBe('at-2');
    await world.advance(839_000);
    expect(tab.accessToken).toBe('at-2');
    await world.advance(2_000); // 60 s before the 900 s expiry
    expect(tab.accessToken).toBe('at-3');
    expect(world.presented).toEqual(['rt-1', 'rt-2']);
  });

  it('forgets an expired token rather than sending it', async () => {
    const tab = world.tab();
    await tab.refresh();
    world.offline = true;
    await world.advance(901_000);
    expect(tab.accessToken).toBeNull();
  });

  it('shares one refresh between concurrent callers in a tab', async () => {
    const tab = world.tab();
    const outcomes = await Promise.all([tab.refresh(), tab.refresh(), tab.refresh()]);
    expect(outcomes).toEqual(['refreshed', 'refreshed', 'refreshed']);
    expect(world.presented).toEqual(['rt-1']);
    expect(world.revoked).toBe(false);
  });

  it('never lets two tabs present the same refresh cookie', async () => {
    world.refreshDelayMs = 5;
    const first = world.tab();
    const second = world.tab();
    const third = world.tab();
    const outcomes = await Promise.all([first.refresh(), second.refresh(), third.refresh()]);
    expect(outcomes).toEqual(['refreshed', 'refreshed', 'refreshed']);
    // Each tab presented the cookie the previous one received: no fork, no reuse.
    expect(world.presented).toEqual(['rt-1', 'rt-2', 'rt-3']);
    expect(world.revoked).toBe(false);
    expect(new Set([first.accessToken, second.accessToken, third.accessToken]).size).toBe(3);
  });

  it('signs out cleanly on refresh_token_reused, in every tab', async () => {
    const tab = world.tab();
    const other = world.tab();
    await tab.refresh();
    await other.refresh();
    const seen = events(tab);
    const otherSeen = events(other);
    world.current = 'rt-rotated-by-a-thief'; // someone else rotated the family
    expect(await tab.refresh()).toBe('signed-out');
    expect(tab.accessToken).toBeNull();
    expect(tab.signedIn).toBe(false);
    expect(seen).toEqual([{ type: 'signed-out', reason: 'refresh_token_reused', wasSignedIn: true }]);
    expect(other.accessToken).toBeNull();
    expect(otherSeen).toEqual([{ type: 'signed-out', reason: 'other_tab', wasSignedIn: true }]);
    // And it stops renewing.
    const before = world.presented.length;
    await world.advance(3_600_000);
    expect(world.presented.length).toBe(before);
  });

  it('treats invalid_refresh_token as signed out; without a prior session it is not news', async () => {
    world.revoked = true;
    const tab = world.tab();
    const seen = events(tab);
    expect(await tab.refresh()).toBe('signed-out');
    expect(seen).toEqual([{ type: 'signed-out', reason: 'invalid_refresh_token', wasSignedIn: false }]);
    expect(world.messages).toEqual([]);
  });

  it('keeps the session through a network failure and tries again', async () => {
    const tab = world.tab();
    await tab.refresh();
    world.offline = true;
    await world.advance(841_000);
    expect(tab.signedIn).toBe(true);
    world.offline = false;
    await world.advance(15_000);
    expect(tab.accessToken).toBe('at-3');
  });

  it('signs out on the server and tells the other tabs', async () => {
    const tab = world.tab();
    const other = world.tab();
    await tab.refresh();
    await other.refresh();
    const otherSeen = events(other);
    await tab.signOut();
    expect(world.revoked).toBe(true);
    expect(tab.accessToken).toBeNull();
    expect(other.accessToken).toBeNull();
    expect(otherSeen).toEqual([{ type: 'signed-out', reason: 'other_tab', wasSignedIn: true }]);
  });

  it('lets a signed-out tab pick up a sign-in made in another tab', async () => {
    world.revoked = true;
    const idle = world.tab();
    await idle.refresh();
    world.revoked = false;
    const active = world.tab();
    active.signedInWith({ access_token: 'at-login', token_type: 'Bearer', expires_in: 900 });
    await flush();
    await flush();
    expect(idle.accessToken).not.toBeNull();
    expect(world.messages.map((entry) => entry.message)).toContainEqual({ type: 'signed-in' });
  });
});
