import assert from 'node:assert/strict';
import { checkAccess, isRestricted, type AccessPolicy } from '../../src/identity/access-policy.js';
import { accountIdOf } from '../../src/interactions/sign-in-completion.js';

const policy = (p: Partial<AccessPolicy>): AccessPolicy => ({ emails: [], domains: [], groups: [], groupsClaim: 'groups', githubUsers: [], githubOrgs: [], googleDomains: [], entraTenants: [], githubMemberships: false, ...p });
const verified = (email: string, extra: Record<string, unknown> = {}) => ({ email, email_verified: true, ...extra });

describe('access policy rules', () => {
  it('allows everyone without lists', () => {
    assert.equal(isRestricted(policy({})), false);
    assert.deepEqual(checkAccess(policy({}), {}), { allowed: true });
  });

  it('matches emails exactly (case-insensitively) or by domain; either list suffices', () => {
    const p = policy({ emails: ['bob@other.org'], domains: ['example.com'] });
    assert.equal(checkAccess(p, verified('Alice@Example.com')).allowed, true);
    assert.equal(checkAccess(p, verified('bob@other.org')).allowed, true);
    assert.deepEqual(checkAccess(p, verified('eve@other.org')), { allowed: false, reason: 'email address not allowed' });
    assert.deepEqual(checkAccess(p, verified('eve@notexample.com')), { allowed: false, reason: 'email address not allowed' });
  });

  it('requires a verified email when emails or domains are listed', () => {
    const p = policy({ domains: ['example.com'] });
    assert.deepEqual(checkAccess(p, { email: 'a@example.com' }), { allowed: false, reason: 'email address not verified' });
    assert.deepEqual(checkAccess(p, { email: 'a@example.com', email_verified: 'true' }), { allowed: false, reason: 'email address not verified' });
    assert.deepEqual(checkAccess(p, {}), { allowed: false, reason: 'no email address' });
  });

  it('reads groups from the configured claim, as an array or one string', () => {
    const p = policy({ groups: ['staff'], groupsClaim: 'roles' });
    assert.equal(checkAccess(p, { roles: ['x', 'staff'] }).allowed, true);
    assert.equal(checkAccess(p, { roles: 'staff' }).allowed, true);
    assert.equal(checkAccess(p, { groups: ['staff'] }).allowed, false);
  });

  it('allows a listed GitHub login, or a member of a listed organisation or team; either list suffices', () => {
    const p = policy({ githubUsers: ['octocat'], githubOrgs: ['acme', 'other/platform'] });
    assert.equal(isRestricted(p), true);
    assert.equal(checkAccess(p, { login: 'OctoCat' }).allowed, true);
    assert.equal(checkAccess(p, { login: 'eve', github_orgs: ['acme'] }).allowed, true);
    assert.equal(checkAccess(p, { login: 'eve', github_orgs: ['other'], github_teams: ['other/platform'] }).allowed, true);
    assert.deepEqual(checkAccess(p, { login: 'eve', github_orgs: ['other'], github_teams: ['other/security'] }), {
      allowed: false,
      reason: 'not an allowed GitHub user, organisation or team member',
    });
    assert.equal(checkAccess(p, { github_orgs: 'acme' }).allowed, false, 'memberships are lists');
  });

  it("allows Google Workspace accounts of a listed domain (the hd claim), never a personal account", () => {
    const p = policy({ googleDomains: ['example.com'] });
    assert.equal(checkAccess(p, { hd: 'Example.com' }).allowed, true);
    assert.deepEqual(checkAccess(p, { hd: 'other.example' }), { allowed: false, reason: 'Google Workspace domain not allowed' });
    assert.deepEqual(checkAccess(p, verified('someone@example.com')), { allowed: false, reason: 'not a Google Workspace account (no hd claim)' });
  });

  it('allows users of a listed Entra ID tenant (the tid claim)', () => {
    const p = policy({ entraTenants: ['72f988bf-86f1-41af-91ab-2d7cd011db47'] });
    assert.equal(checkAccess(p, { tid: '72F988BF-86F1-41AF-91AB-2D7CD011DB47' }).allowed, true);
    assert.deepEqual(checkAccess(p, { tid: '9188040d-6c67-4c5b-b112-36a304b66dad' }), { allowed: false, reason: 'Entra ID tenant not allowed' });
    assert.deepEqual(checkAccess(p, {}), { allowed: false, reason: 'Entra ID tenant not allowed' });
  });

  it('applies every configured kind', () => {
    const p = policy({ domains: ['example.com'], groups: ['staff'] });
    assert.equal(checkAccess(p, verified('a@example.com', { groups: ['staff'] })).allowed, true);
    assert.equal(checkAccess(p, verified('a@example.com', { groups: [] })).allowed, false);
    assert.equal(checkAccess(p, verified('a@other.org', { groups: ['staff'] })).allowed, false);
  });
});

describe('account ids with several providers', () => {
  const identity = (email?: string, verified?: boolean) => ({ subject: '42', claims: { ...(email ? { email } : {}), ...(verified !== undefined ? { email_verified: verified } : {}) } });

  it('is the subject with one provider, the subject within its block with several', () => {
    assert.equal(accountIdOf(identity('a@example.com', true), 'github', { several: false, linkVerifiedEmails: true }), '42');
    assert.equal(accountIdOf(identity('a@example.com', true), 'github', { several: true, linkVerifiedEmails: false }), 'github:42');
  });

  it('links by email only when asked and only a verified one', () => {
    assert.equal(accountIdOf(identity('A@Example.com', true), 'corp', { several: true, linkVerifiedEmails: true }), 'email:a@example.com');
    assert.equal(accountIdOf(identity('a@example.com', false), 'corp', { several: true, linkVerifiedEmails: true }), 'corp:42');
    assert.equal(accountIdOf(identity(), 'corp', { several: true, linkVerifiedEmails: true }), 'corp:42');
  });
});

