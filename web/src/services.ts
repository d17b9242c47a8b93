// The app's single token manager and API client.

import { ApiClient } from './api/client';
import { browserTokenManager } from './auth/browser';

export const tokens = browserTokenManager();

const quarantineListeners = new Set<() => void>();

export function onQuarantined(listener: () => void): () => void {
  quarantineListeners.add(listener);
  return () => quarantineListeners.delete(listener);
}

export const api = new ApiClient(
  tokens,
  {
    onQuarantined: () => {
      for (const listener of quarantineListeners) listener();
    },
  },
  (input, init) => window.fetch(input, init),
);
