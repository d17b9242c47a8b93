// Profile: display name, and the personal details — national id masked, revealed only after a
// step-up; editing (changing the national id needs a step-up too) and deleting with
// confirmation (crypto-shredding on the server).

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { isProblem } from '../api/problem';
import type { Me, Profile, ProfileInput } from '../api/types';
import { Busy, Dialog, ErrorAlert, Notice, Page, Section, SelectField, TextField } from '../components/ui';
import { problemMessage } from '../errors';
import { focusFirstInvalid, useFormErrors } from '../hooks';
import { api } from '../services';
import { useSession } from '../session';
import { StepUpCancelled, useStepUp } from '../stepup';
import {
  ADDRESS_LINE_CHARS_MAX,
  CITY_CHARS_MAX,
  COUNTRY_CODES,
  DISPLAY_NAME_CHARS_MAX,
  LEGAL_NAME_CHARS_MAX,
  NATIONAL_ID_CHARS_MAX,
  POSTAL_CODE_CHARS_MAX,
  charCount,
  checkName,
  countryName,
  hasControlCharacters,
  isPlainCode,
  isValidDateOfBirth,
} from '../validation';

const PROFILE_FIELDS = [
  'legal_name',
  'date_of_birth',
  'national_id',
  'address.line1',
  'address.line2',
  'address.city',
  'address.postal_code',
  'address.country',
] as const;

type Loaded = { kind: 'loading' } | { kind: 'none' } | { kind: 'profile'; profile: Profile } | { kind: 'error'; message: string };

export function ProfilePage() {
  const stepUp = useStepUp();
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  const [revealed, setRevealed] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setLoaded({ kind: 'profile', profile: await api.get<Profile>('/v1/me/profile') });
    } catch (problem) {
      if (isProblem(problem, 'not_found')) setLoaded({ kind: 'none' });
      else setLoaded({ kind: 'error', message: problemMessage(problem) });
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const reveal = async () => {
    setActionError(null);
    setBusy(true);
    try {
      const profile = await stepUp.run(
        () => api.get<Profile>('/v1/me/profile', { query: { reveal: 'national_id' } }),
        'Showing your national id needs you to confirm it is you.',
      );
      setRevealed(profile.national_id ?? null);
    } catch (problem) {
      setActionError(problem instanceof StepUpCancelled ? 'Not confirmed, so the national id stays hidden.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setActionError(null);
    setBusy(true);
    try {
      await stepUp.run(() => api.delete('/v1/me/profile'), 'Deleting your personal details needs you to confirm it is you.');
      setConfirmDelete(false);
      setRevealed(null);
      setNotice('Your personal details were deleted.');
      setLoaded({ kind: 'none' });
    } catch (problem) {
      setConfirmDelete(false);
      setActionError(problem instanceof StepUpCancelled ? 'Not confirmed, so nothing was deleted.' : problemMessage(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Profile">
      <Notice message={notice} />
      <DisplayName />
      <Section title="Personal details">
        <ErrorAlert message={actionError} />
        {loaded.kind === 'loading' ? <Busy label="Loading your details…" /> : null}
        {loaded.kind === 'error' ? <ErrorAlert message={loaded.message} /> : null}
        {loaded.kind === 'none' && !editing ? (
          <>
            <p>You have not added your personal details yet.</p>
            <button type="button" onClick={() => setEditing(true)}>
              Add personal details
            </button>
          </>
        ) : null}
        {loaded.kind === 'profile' && !editing ? (
          <>
            <dl className="details">
              <dt>Legal name</dt>
              <dd>{loaded.profile.legal_name}</dd>
              <dt>Date of birth</dt>
              <dd>{loaded.profile.date_of_birth}</dd>
              <dt>National id</dt>
              <dd>
                <span data-testid="national-id">{revealed ?? loaded.profile.national_id_masked}</span>{' '}
                {revealed === null ? (
                  <button type="button" className="link" onClick={reveal} disabled={busy}>
                    Show national id
                  </button>
                ) : (
                  <button type="button" className="link" onClick={() => setRevealed(null)}>
                    Hide national id
                  </button>
                )}
              </dd>
              <dt>Address</dt>
              <dd>
                <address>
                  {loaded.profile.address.line1}
                  <br />
                  {loaded.profile.address.line2 ? (
                    <>
                      {loaded.profile.address.line2}
                      <br />
                    </>
                  ) : null}
                  {loaded.profile.address.postal_code} {loaded.profile.address.city}
                  <br />
                  {countryName(loaded.profile.address.country)}
                </address>
              </dd>
            </dl>
            <div className="actions">
              <button type="button" onClick={() => setEditing(true)}>
                Edit personal details
              </button>
              <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
                Delete personal details
              </button>
            </div>
          </>
        ) : null}
        {editing ? (
          <ProfileForm
            existing={loaded.kind === 'profile' ? loaded.profile : null}
            revealedNationalId={revealed}
            onCancel={() => setEditing(false)}
            onSaved={(profile) => {
              setEditing(false);
              setRevealed(null);
              setNotice('Your personal details were saved.');
              setLoaded({ kind: 'profile', profile });
            }}
          />
        ) : null}
      </Section>
      <Dialog open={confirmDelete} title="Delete your personal details?" onCancel={() => setConfirmDelete(false)}>
        <p>
          Your legal name, date of birth, national id and address will be destroyed for good. This cannot be undone.
          Your accounts and their history stay.
        </p>
        <div className="actions">
          <button type="button" className="danger" onClick={remove} disabled={busy}>
            Delete for good
          </button>
          <button type="button" className="secondary" onClick={() => setConfirmDelete(false)} data-autofocus>
            Keep my details
          </button>
        </div>
      </Dialog>
    </Page>
  );
}

function DisplayName() {
  const { me, reloadMe } = useSession();
  const [name, setName] = useState(me?.display_name ?? '');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const errors = useFormErrors();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    setSaved(null);
    if (checkName(name, DISPLAY_NAME_CHARS_MAX)) {
      errors.setField('display_name', `Enter a name of 1 to ${DISPLAY_NAME_CHARS_MAX} characters.`);
      return;
    }
    setBusy(true);
    try {
      await api.patch<Me>('/v1/me', { body: { display_name: name.trim() } });
      await reloadMe();
      setSaved('Your name was saved.');
    } catch (problem) {
      errors.show(problem, ['display_name']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Your name">
      <p>
        Signed in as <strong>{me?.email}</strong>.
      </p>
      <Notice message={saved} />
      <form onSubmit={submit} noValidate className="inline-form">
        <ErrorAlert message={errors.message} />
        <TextField
          id="display_name"
          label="Display name"
          autoComplete="name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          error={errors.fields.display_name}
        />
        <div className="actions">
          <button type="submit" disabled={busy}>
            Save name
          </button>
        </div>
      </form>
    </Section>
  );
}

function ProfileForm({
  existing,
  revealedNationalId,
  onCancel,
  onSaved,
}: {
  existing: Profile | null;
  revealedNationalId: string | null;
  onCancel: () => void;
  onSaved: (profile: Profile) => void;
}) {
  const stepUp = useStepUp();
  const [input, setInput] = useState<ProfileInput>(() => ({
    legal_name: existing?.legal_name ?? '',
    date_of_birth: existing?.date_of_birth ?? '',
    national_id: revealedNationalId ?? '',
    address: {
      line1: existing?.address.line1 ?? '',
      line2: existing?.address.line2 ?? '',
      city: existing?.address.city ?? '',
      postal_code: existing?.address.postal_code ?? '',
      country: existing?.address.country ?? '',
    },
  }));
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors();
  const form = useRef<HTMLFormElement>(null);

  const set = (field: keyof Omit<ProfileInput, 'address'>) => (value: string) =>
    setInput((current) => ({ ...current, [field]: value }));
  const setAddress = (field: keyof ProfileInput['address']) => (value: string) =>
    setInput((current) => ({ ...current, address: { ...current.address, [field]: value } }));

  const validate = (): boolean => {
    const problems: Record<string, string> = {};
    if (checkName(input.legal_name, LEGAL_NAME_CHARS_MAX)) problems.legal_name = 'Enter your legal name (at most 200 characters).';
    if (!isValidDateOfBirth(input.date_of_birth)) problems.date_of_birth = 'Enter a real date, not in the future, after 1900.';
    const national = input.national_id.trim();
    if (national === '' || charCount(national) > NATIONAL_ID_CHARS_MAX) problems.national_id = 'Enter your national id (at most 64 characters).';
    else if (!isPlainCode(national)) problems.national_id = 'Use only letters, digits, spaces and hyphens.';
    if (checkName(input.address.line1, ADDRESS_LINE_CHARS_MAX)) problems['address.line1'] = 'Enter the first line of your address.';
    const line2 = input.address.line2 ?? '';
    if (charCount(line2) > ADDRESS_LINE_CHARS_MAX || hasControlCharacters(line2)) problems['address.line2'] = 'Use at most 200 characters.';
    if (checkName(input.address.city, CITY_CHARS_MAX)) problems['address.city'] = 'Enter your city.';
    const postal = input.address.postal_code.trim();
    if (postal === '' || charCount(postal) > POSTAL_CODE_CHARS_MAX) problems['address.postal_code'] = 'Enter a postal code of at most 20 characters.';
    else if (!isPlainCode(postal)) problems['address.postal_code'] = 'Use only letters, digits, spaces and hyphens.';
    if (!COUNTRY_CODES.includes(input.address.country)) problems['address.country'] = 'Choose a country from the list.';
    for (const [field, message] of Object.entries(problems)) errors.setField(field, message);
    return Object.keys(problems).length === 0;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    errors.clear();
    if (!validate()) {
      errors.setMessage('Please correct the highlighted fields.');
      focusFirstInvalid(form.current);
      return;
    }
    const body: ProfileInput = {
      legal_name: input.legal_name.trim(),
      date_of_birth: input.date_of_birth,
      national_id: input.national_id.trim(),
      address: {
        line1: input.address.line1.trim(),
        ...(input.address.line2?.trim() ? { line2: input.address.line2.trim() } : {}),
        city: input.address.city.trim(),
        postal_code: input.address.postal_code.trim(),
        country: input.address.country,
      },
    };
    setBusy(true);
    try {
      const saved = await stepUp.run(
        () => api.put<Profile>('/v1/me/profile', { body }),
        'Changing your national id needs you to confirm it is you.',
      );
      onSaved(saved);
    } catch (problem) {
      errors.show(problem, PROFILE_FIELDS);
      focusFirstInvalid(form.current);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} onSubmit={submit} noValidate>
      <ErrorAlert message={errors.message} />
      <TextField
        id="legal_name"
        label="Legal name"
        autoComplete="name"
        value={input.legal_name}
        onChange={(event) => set('legal_name')(event.target.value)}
        error={errors.fields.legal_name}
      />
      <TextField
        id="date_of_birth"
        label="Date of birth"
        hint="Year, month and day, like 1990-04-23."
        type="date"
        autoComplete="bday"
        value={input.date_of_birth}
        onChange={(event) => set('date_of_birth')(event.target.value)}
        error={errors.fields.date_of_birth}
      />
      <TextField
        id="national_id"
        label="National id"
        hint={
          existing
            ? 'Enter it again to save your details. Changing it needs you to confirm it is you.'
            : 'As printed on your identity document.'
        }
        autoComplete="off"
        spellCheck={false}
        value={input.national_id}
        onChange={(event) => set('national_id')(event.target.value)}
        error={errors.fields.national_id}
      />
      <fieldset>
        <legend>Address</legend>
        <TextField
          id="address.line1"
          label="Address line 1"
          autoComplete="address-line1"
          value={input.address.line1}
          onChange={(event) => setAddress('line1')(event.target.value)}
          error={errors.fields['address.line1']}
        />
        <TextField
          id="address.line2"
          label="Address line 2 (optional)"
          autoComplete="address-line2"
          value={input.address.line2 ?? ''}
          onChange={(event) => setAddress('line2')(event.target.value)}
          error={errors.fields['address.line2']}
        />
        <TextField
          id="address.city"
          label="City"
          autoComplete="address-level2"
          value={input.address.city}
          onChange={(event) => setAddress('city')(event.target.value)}
          error={errors.fields['address.city']}
        />
        <TextField
          id="address.postal_code"
          label="Postal code"
          autoComplete="postal-code"
          value={input.address.postal_code}
          onChange={(event) => setAddress('postal_code')(event.target.value)}
          error={errors.fields['address.postal_code']}
        />
        <SelectField
          id="address.country"
          label="Country"
          autoComplete="country"
          value={input.address.country}
          onChange={(event) => setAddress('country')(event.target.value)}
          error={errors.fields['address.country']}
        >
          <option value="">Choose a country</option>
          {COUNTRY_CODES.map((code) => ({ code, name: countryName(code) }))
            .sort((a, b) => a.name.localeCompare(b.name))
            .map(({ code, name }) => (
              <option key={code} value={code}>
                {name}
              </option>
            ))}
        </SelectField>
      </fieldset>
      <div className="actions">
        <button type="submit" disabled={busy}>
          Save details
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
