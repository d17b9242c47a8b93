// Shared page logic: cursor-paginated lists, form errors from problems, and the token of a
// link from a mail.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiProblem } from './api/problem';
import type { Page } from './api/types';
import { fieldMessage, problemMessage } from './errors';
import { takeTokenFromAddress, tokenFromFragment } from './fragment';
import { StepUpCancelled } from './stepup';

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
}

/** A list read page by page (`limit`/`cursor`), newest first as the server sends it. */
export function usePaged<T>(load: (cursor: string | null) => Promise<Page<T>>, key: string): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const fetchPage = useCallback((from: string | null, replace: boolean) => {
    const mine = ++generation.current;
    setLoading(true);
    setError(null);
    loader
      .current(from)
      .then((page) => {
        if (mine !== generation.current) return;
        setItems((previous) => (replace ? page.items : [...previous, ...page.items]));
        setCursor(page.next_cursor);
      })
      .catch((problem: unknown) => {
        if (mine === generation.current) setError(problemMessage(problem));
      })
      .finally(() => {
        if (mine === generation.current) setLoading(false);
      });
  }, []);

  useEffect(() => {
    fetchPage(null, true);
  }, [fetchPage, key]);

  return {
    items,
    loading,
    error,
    hasMore: cursor !== null,
    loadMore: () => fetchPage(cursor, false),
    reload: () => fetchPage(null, true),
  };
}

export interface FormErrors {
  message: string | null;
  fields: Record<string, string>;
  /** Shows a thrown error: field errors next to their fields, the rest as one sentence. */
  show: (error: unknown, knownFields?: readonly string[]) => void;
  setField: (field: string, message: string | null) => void;
  setMessage: (message: string | null) => void;
  clear: () => void;
}

export function useFormErrors(): FormErrors {
  const [message, setMessage] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const show = useCallback((error: unknown, knownFields?: readonly string[]) => {
    if (error instanceof StepUpCancelled) {
      setMessage('Not confirmed, so nothing was changed.');
      setFields({});
      return;
    }
    const next: Record<string, string> = {};
    let unplaced = false;
    if (error instanceof ApiProblem) {
      for (const fieldError of error.errors) {
        if (!knownFields || knownFields.includes(fieldError.field)) {
          next[fieldError.field] ??= fieldMessage(fieldError);
        } else {
          unplaced = true;
        }
      }
    }
    setFields(next);
    const placed = Object.keys(next).length > 0;
    setMessage(placed && !unplaced ? 'Please correct the highlighted fields.' : problemMessage(error));
  }, []);
  const setField = useCallback((field: string, text: string | null) => {
    setFields((previous) => {
      const next = { ...previous };
      if (text === null) delete next[field];
      else next[field] = text;
      return next;
    });
  }, []);
  const clear = useCallback(() => {
    setMessage(null);
    setFields({});
  }, []);
  return { message, fields, show, setField, setMessage, clear };
}

/** Frames to wait for React to show the errors set just before (after an awaited call its
 *  render is scheduled, not immediate). */
const FOCUS_FRAMES_MAX = 10;

/** Moves focus to the first invalid field of a form, so keyboard users land on it. */
export function focusFirstInvalid(form: HTMLFormElement | null): void {
  let frames = 0;
  const attempt = () => {
    const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else if (form?.isConnected && ++frames < FOCUS_FRAMES_MAX) window.requestAnimationFrame(attempt);
  };
  window.setTimeout(attempt, 0);
}

/** The token of the mail link that opened this page (`#token=...`), read once; the fragment is
 *  then removed from the address bar. */
export function useLinkToken(): string | null {
  const [token] = useState(() => tokenFromFragment(window.location.hash));
  useEffect(() => {
    takeTokenFromAddress();
  }, []);
  return token;
}
