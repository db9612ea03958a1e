import { describe, expect, it } from 'vitest';
import { ChangePasswordBody, LoginBody, NewPassword, RegisterBody } from '../../../shared/schemas/auth.js';

const valid = { email: 'jane@example.com', password: 'twelve chars', name: 'Jane' };

describe('auth request schemas', () => {
  it.each([
    ['11 ASCII characters', 'a'.repeat(11), false],
    ['12 ASCII characters', 'a'.repeat(12), true],
    ['72 ASCII bytes', 'a'.repeat(72), true],
    ['73 ASCII bytes', 'a'.repeat(73), false],
    ['12 emoji = 12 characters, 48 bytes', '😀'.repeat(12), true],
    ['11 emoji (22 UTF-16 units)', '😀'.repeat(11), false],
    ['24 three-byte characters = 72 bytes', '€'.repeat(24), true],
    ['25 three-byte characters = 75 bytes', '€'.repeat(25), false],
  ])('new password of %s → %s', (_label, password, ok) => {
    expect(NewPassword.safeParse(password).success).toBe(ok);
  });

  it('says why a new password is refused', () => {
    const short = NewPassword.safeParse('short');
    expect(short.success ? '' : short.error.issues[0]!.message).toBe('must be at least 12 characters');
    const long = NewPassword.safeParse('x'.repeat(100));
    expect(long.success ? '' : long.error.issues[0]!.message).toMatch(/at most 72 bytes/);
  });

  it('accepts a registration and keeps values verbatim', () => {
    const body = { ...valid, name: '  Jane  ', phone: '+1 (555) 010-0100', address: ' 1 Main St ' };
    expect(RegisterBody.parse(body)).toEqual(body);
  });

  it.each([
    ['an unknown field', { ...valid, roles: ['admin'] }],
    ['a bad email', { ...valid, email: 'not-an-email' }],
    ['an email over 254 characters', { ...valid, email: `${'a'.repeat(250)}@x.com` }],
    ['a bad phone', { ...valid, phone: 'call me' }],
    ['a blank name', { ...valid, name: ' \t ' }],
    ['a NUL in the address', { ...valid, address: 'a\u0000b' }],
  ])('refuses a registration with %s', (_label, body) => {
    expect(RegisterBody.safeParse(body).success).toBe(false);
  });

  it('checks login passwords only for the 72-byte ceiling (old accounts may predate the 12-character rule)', () => {
    expect(LoginBody.safeParse({ email: 'a@b.c', password: 'short' }).success).toBe(true);
    expect(LoginBody.safeParse({ email: 'a@b.c', password: 'x'.repeat(73) }).success).toBe(false);
    expect(LoginBody.safeParse({ email: 'a@b.c', password: '' }).success).toBe(false);
  });

  it('applies the new-password rules to a password change', () => {
    expect(ChangePasswordBody.safeParse({ currentPassword: 'old', newPassword: 'short' }).success).toBe(
      false,
    );
    expect(
      ChangePasswordBody.safeParse({ currentPassword: 'old', newPassword: 'long enough now' }).success,
    ).toBe(true);
  });
});
