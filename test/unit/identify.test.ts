import assert from 'node:assert/strict';
import { identify } from '../../src/identity/upstream.js';

describe('identify (who signed in upstream)', () => {
  it('prefers the ID token sub and its claims', () => {
    const result = identify({ sub: 'id-sub', email: 'a@example.com', email_verified: true }, { sub: 'id-sub', name: 'A' }, { user_id: 'u' });
    assert.deepEqual(result, {
      subject: 'id-sub',
      claims: { email: 'a@example.com', email_verified: true, name: 'A' },
      profile: { sub: 'id-sub', email: 'a@example.com', email_verified: true, name: 'A' },
    });
  });

  it('uses userinfo when there is no ID token', () => {
    assert.equal(identify(undefined, { sub: 'ui-sub' }, {}).subject, 'ui-sub');
  });

  it('falls back to user_id, then id, for non-OIDC IdPs (Heroku Identity)', () => {
    assert.equal(identify(undefined, undefined, { user_id: 'heroku-user' }).subject, 'heroku-user');
    assert.equal(identify(undefined, undefined, { id: 42 }).subject, '42');
  });

  it('ignores claims of the wrong type', () => {
    assert.deepEqual(identify({ sub: 's', email: 7, email_verified: 'yes', name: null }, undefined, {}).claims, {});
  });

  it('refuses a sign-in that names nobody', () => {
    assert.throws(() => identify(undefined, { sub: '' }, { user_id: null }), /did not identify the user/);
  });
});
