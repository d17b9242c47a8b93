// Builds the web app (and the API reference page, docs.html) into dist/, which the strongroom
// binary embeds. The CSP forbids inline
// script and style, so nothing may be inlined: index.html references only hashed files.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // No data: URLs for fonts or images, no source maps shipped.
    assetsInlineLimit: 0,
    sourcemap: false,
    // The polyfill would be an inline script; every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    target: 'es2022',
    // Two pages: the app, and the API reference at /docs (Swagger UI, ~1.5 MB, loaded there only).
    rollupOptions: {
      input: { main: 'index.html', docs: 'docs.html' },
    },
    // zxcvbn's dictionaries (~800 kB) are one lazily loaded chunk, fetched on the sign-up page
    // only; Swagger UI is the /docs page's own chunk.
    chunkSizeWarningLimit: 1800,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
