// Host names as allow and deny decisions must see them: one spelling per host. URL parsing
// already lower-cases, turns IDNA into punycode and IPv4 in any notation (0x7f.1, 2130706433)
// into dotted decimal; a trailing dot (the fully qualified form, the same host in DNS) is dropped
// here, so `evil.example.` cannot slip past a deny list naming `evil.example`.

/** The canonical form of a host name or IP literal; undefined when it is not one. */
export function normalizeHost(host: string): string | undefined {
  const bare = host.trim().replace(/\.$/, '');
  // A name or an IP literal only: nothing a URL could read as a scheme, port, path or user.
  if (!/^(\*\.)?([^\s/\\@?#:[\]*]+|\[[0-9a-f:.]+\])$/i.test(bare) || bare.endsWith('.')) return undefined;
  return URL.parse(`http://${bare.startsWith('*.') ? bare.slice(2) : bare}/`)?.hostname;
}

/** Whether `host` is one of `patterns` (exact, or `*.example.com` for its subdomains), both normalized. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  const name = normalizeHost(host);
  if (name === undefined) return false;
  return patterns.some((pattern) => {
    const normalized = normalizeHost(pattern);
    if (normalized === undefined) return false;
    return pattern.trim().startsWith('*.') ? name.endsWith(`.${normalized}`) : name === normalized;
  });
}
