// The token manager wired to the browser: fetch, timers, the Web Locks API and a
// BroadcastChannel between the tabs of this origin.

import { TokenManager, type TabMessage } from './tokens';

const CHANNEL_NAME = 'strongroom-session';

export function browserTokenManager(): TokenManager {
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL_NAME) : null;
  const locks: LockManager | undefined = navigator.locks;
  const manager = new TokenManager({
    fetch: (input, init) => window.fetch(input, init),
    now: () => Date.now(),
    setTimeout: (task, delayMs) => window.setTimeout(task, delayMs),
    clearTimeout: (handle) => window.clearTimeout(handle),
    // Every browser the app supports has Web Locks in a secure context; without them the
    // server's 10-second grace for a concurrent refresh from the same client still applies.
    withLock: <T,>(name: string, task: () => Promise<T>): Promise<T> =>
      locks ? (locks.request(name, task) as Promise<T>) : task(),
    post: (message) => channel?.postMessage(message),
  });
  channel?.addEventListener('message', (event: MessageEvent<TabMessage>) => {
    const message = event.data;
    if (message && (message.type === 'signed-in' || message.type === 'signed-out')) {
      manager.receive(message);
    }
  });
  return manager;
}
