// Entry point: the providers and the app, mounted into #root.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { SessionProvider } from './session';
import { StepUpProvider } from './stepup';
import './styles.css';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SessionProvider>
        <StepUpProvider>
          <App />
        </StepUpProvider>
      </SessionProvider>
    </StrictMode>,
  );
}
