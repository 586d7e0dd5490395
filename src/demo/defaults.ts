// The demo's account, printed at startup (the demo listens on 127.0.0.1 only). The settings the
// demo stands in for are the configuration's (src/config/demo.ts).
import type { DevAccount } from './identity-provider.js';

export const DEMO_ACCOUNT: DevAccount = {
  sub: 'demo-user',
  username: 'demo',
  password: 'mcp-demo',
  email: 'demo@example.com',
  name: 'Demo User',
  groups: ['demo'],
};
