// Small accessible building blocks: page heading with focus on navigation, labelled fields
// with their errors, alerts, and modal dialogs on the native <dialog> element.

import {
  useEffect,
  useId,
  useRef,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
} from 'react';

/** A page: sets the document title and moves focus to the heading, so screen readers and
 *  keyboard users start at the new content after each navigation. */
export function Page({ title, children }: { title: string; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Strongroom`;
    heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <>
      <h1 tabIndex={-1} ref={heading}>
        {title}
      </h1>
      {children}
    </>
  );
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

interface FieldChrome {
  label: string;
  hint?: ReactNode;
  /** Shown below the input (and announced with it), like live password rules. */
  details?: ReactNode;
  error?: string | null;
}

function describedBy(id: string, hint: unknown, error: unknown, details?: unknown): string | undefined {
  const ids = [hint ? `${id}-hint` : null, details ? `${id}-details` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length > 0 ? ids.join(' ') : undefined;
}

function FieldFrame({ id, label, hint, details, error, children }: FieldChrome & { id: string; children: ReactNode }) {
  return (
    <div className={error ? 'field field-invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {children}
      {details ? (
        <div className="details-below" id={`${id}-details`}>
          {details}
        </div>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          <span aria-hidden="true">⚠ </span>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function TextField({
  id,
  label,
  hint,
  details,
  error,
  ...input
}: FieldChrome & InputHTMLAttributes<HTMLInputElement> & { id: string }) {
  return (
    <FieldFrame id={id} label={label} hint={hint} details={details} error={error}>
      <input
        id={id}
        name={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error, details)}
        {...input}
      />
    </FieldFrame>
  );
}

export function SelectField({
  id,
  label,
  hint,
  error,
  children,
  ...select
}: FieldChrome & SelectHTMLAttributes<HTMLSelectElement> & { id: string }) {
  return (
    <FieldFrame id={id} label={label} hint={hint} error={error}>
      <select
        id={id}
        name={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
        {...select}
      >
        {children}
      </select>
    </FieldFrame>
  );
}

/** An error that needs attention: announced at once. */
export function ErrorAlert({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <div className="alert alert-error" role="alert">
      {message}
    </div>
  );
}

/** News that does not interrupt (saved, sent). */
export function Notice({ message }: { message: string | null }) {
  return (
    <div role="status" className={message ? 'alert alert-info' : 'visually-hidden'}>
      {message}
    </div>
  );
}

/** A modal dialog: focus moves inside and stays there, Escape cancels. Mark the element that
 *  should take the focus first with `data-autofocus` (React's autoFocus runs too early). */
export function Dialog({
  open,
  title,
  onCancel,
  children,
}: {
  open: boolean;
  title: string;
  onCancel: () => void;
  children: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      element.showModal();
      // Where focus starts: the element marked `data-autofocus` (e.g. Cancel on a destructive
      // confirmation), else the browser's choice, the first focusable element.
      element.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    }
    if (!open && element.open) element.close();
  }, [open]);
  return (
    <dialog
      ref={dialog}
      aria-labelledby={headingId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      {open ? (
        <>
          <h2 id={headingId}>{title}</h2>
          {children}
        </>
      ) : null}
    </dialog>
  );
}

export function Busy({ label }: { label: string }) {
  return (
    <p className="busy" role="status" aria-live="polite">
      {label}
    </p>
  );
}
