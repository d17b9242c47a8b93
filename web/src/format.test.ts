import { describe, expect, it } from 'vitest';
import { describeEvent, exportFileName } from './format';

describe('exportFileName', () => {
  it('names the file after the day of the export', () => {
    expect(exportFileName('2026-11-28T01:14:37Z')).toBe('strongroom-data-2026-11-28.json');
    expect(exportFileName('2026-01-02T23:59:59.999+00:00')).toBe('strongroom-data-2026-01-02.json');
  });

  it('falls back to today for a time it cannot read', () => {
    expect(exportFileName('', new Date(Date.UTC(2027, 4, 6, 12)))).toBe('strongroom-data-2027-05-06.json');
  });
});

describe('describeEvent', () => {
  it('says the lifecycle events in words', () => {
    expect(describeEvent('password_reset')).toBe('Password reset with an emailed link');
    expect(describeEvent('email_changed')).toBe('Email address changed');
    expect(describeEvent('something_new')).toBe('something new');
  });
});
