// Loopback hosts as they appear in URL.hostname (RFC 8252 §7.3 native-app redirects, local tools).
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export const isLoopbackHost = (hostname: string): boolean => LOOPBACK_HOSTS.has(hostname);
