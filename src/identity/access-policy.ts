// Who may sign in: allowlists of emails, email domains and group claim values. Each configured
// kind restricts (emails and domains are one kind: either matches); emails count only when the
// IdP says they are verified. Checked at sign-in and again at every upstream refresh.
export interface AccessPolicy {
  emails: readonly string[];
  domains: readonly string[];
  groups: readonly string[];
  /** The claim holding the user's groups (an array of strings, or one string). */
  groupsClaim: string;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

export const isRestricted = (policy: AccessPolicy): boolean =>
  policy.emails.length + policy.domains.length + policy.groups.length > 0;

export function checkAccess(policy: AccessPolicy, profile: Record<string, unknown>): AccessDecision {
  if (policy.emails.length + policy.domains.length > 0) {
    const email = typeof profile.email === 'string' ? profile.email.toLowerCase() : undefined;
    if (!email) return { allowed: false, reason: 'no email address' };
    if (profile.email_verified !== true) return { allowed: false, reason: 'email address not verified' };
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!policy.emails.includes(email) && !policy.domains.includes(domain)) {
      return { allowed: false, reason: 'email address not allowed' };
    }
  }
  if (policy.groups.length > 0) {
    const raw = profile[policy.groupsClaim];
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : [];
    if (!groups.some((group) => policy.groups.includes(group))) return { allowed: false, reason: 'not in an allowed group' };
  }
  return { allowed: true };
}
