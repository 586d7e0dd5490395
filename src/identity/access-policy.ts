// Who may sign in: allowlists of emails, email domains, group claim values, (GitHub) logins,
// organisations and teams, (Google) Workspace domains and (Entra ID) tenants. Each configured kind restricts (emails and domains are one kind, GitHub
// logins and memberships another: either matches); emails count only when the IdP says they are
// verified. Checked at sign-in and again at every upstream refresh.
export interface AccessPolicy {
  emails: readonly string[];
  domains: readonly string[];
  groups: readonly string[];
  /** The claim holding the user's groups (an array of strings, or one string). */
  groupsClaim: string;
  /** GitHub logins, lower-case. */
  githubUsers: readonly string[];
  /** GitHub organisations (`acme`) and teams (`acme/platform`), lower-case. */
  githubOrgs: readonly string[];
  /** Google Workspace domains (the `hd` claim), lower-case. */
  googleDomains: readonly string[];
  /** Entra ID tenant ids (the `tid` claim), lower-case. */
  entraTenants: readonly string[];
  /**
   * Read the GitHub user's organisations and teams at sign-in (IDENTITY_ALLOWED_GITHUB_ORGS, or an
   * MCP_AUTH_PROXY_POLICY rule naming groups: they are the user's groups there).
   */
  githubMemberships: boolean;
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

export const isRestricted = (policy: AccessPolicy): boolean =>
  policy.emails.length + policy.domains.length + policy.groups.length + policy.githubUsers.length + policy.githubOrgs.length + policy.googleDomains.length + policy.entraTenants.length > 0;

/** The strings of a list (anything else: none). GitHub's memberships are always lists. */
const listOf = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
/** A claim holding a list of strings, or one string. */
const stringsOf = (value: unknown): string[] => (typeof value === 'string' ? [value] : listOf(value));
/** A GitHub user's organisations and teams, when they were read. */
const githubMembershipsOf = (profile: Record<string, unknown>): string[] => [...listOf(profile.github_orgs), ...listOf(profile.github_teams)];

/**
 * The user's groups: the IDENTITY_GROUPS_CLAIM claim, and with GitHub their organisations (`acme`)
 * and teams (`acme/platform`) when they were read.
 */
export function groupsOf(profile: Record<string, unknown>, claim: string): string[] {
  return [...stringsOf(profile[claim]), ...githubMembershipsOf(profile)];
}

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
    // The claim alone: IDENTITY_ALLOWED_GROUPS is about the IdP's groups, not GitHub memberships.
    const groups = stringsOf(profile[policy.groupsClaim]);
    if (!groups.some((group) => policy.groups.includes(group))) return { allowed: false, reason: 'not in an allowed group' };
  }
  if (policy.githubUsers.length + policy.githubOrgs.length > 0 && !githubAllowed(policy, profile)) {
    return { allowed: false, reason: 'not an allowed GitHub user, organisation or team member' };
  }
  if (policy.googleDomains.length > 0) {
    const hd = typeof profile.hd === 'string' ? profile.hd.toLowerCase() : undefined;
    if (!hd) return { allowed: false, reason: 'not a Google Workspace account (no hd claim)' };
    if (!policy.googleDomains.includes(hd)) return { allowed: false, reason: 'Google Workspace domain not allowed' };
  }
  if (policy.entraTenants.length > 0) {
    const tid = typeof profile.tid === 'string' ? profile.tid.toLowerCase() : undefined;
    if (!tid || !policy.entraTenants.includes(tid)) return { allowed: false, reason: 'Entra ID tenant not allowed' };
  }
  return { allowed: true };
}

/** The login is listed, or one of the user's organisations (`acme`) or teams (`acme/platform`) is. */
function githubAllowed(policy: AccessPolicy, profile: Record<string, unknown>): boolean {
  const login = typeof profile.login === 'string' ? profile.login.toLowerCase() : undefined;
  if (login !== undefined && policy.githubUsers.includes(login)) return true;
  return githubMembershipsOf(profile).some((membership) => policy.githubOrgs.includes(membership));
}
