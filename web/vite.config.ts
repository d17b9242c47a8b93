// Builds the web app into dist/, which the strongroom binary embeds. The CSP forbids inline
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
    // zxcvbn's dictionaries (~800 kB) are one lazily loaded chunk, fetched on the sign-up page only.
    chunkSizeWarningLimit: 900,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
