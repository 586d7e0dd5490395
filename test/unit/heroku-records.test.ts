// Client records Heroku's proxy left under the same Redis prefix: cleaned when read, and all once.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import type { AdapterPayload } from 'oidc-provider';
import { createAdapterClass } from '../../src/provider/adapter.js';
import { cleanHerokuClient, signableAlgorithms, sweepHerokuClients } from '../../src/provider/heroku-records.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

const EC = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const ED = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
const HEROKU_CLIENT: AdapterPayload = {
  client_id: 'c1',
  redirect_uris: ['http://127.0.0.1:1/cb'],
  response_types: ['code', 'code token'],
  id_token_signed_response_alg: 'Ed25519',
  identityLoginConfirmed: true,
  identityAuthAccessToken: 'plain-text-upstream-token',
  identityAuthRefreshToken: 'plain-text-upstream-refresh-token',
};

describe("client records of Heroku's proxy", () => {
  it('knows which ID token algorithms our keys sign', () => {
    assert.deepEqual([...signableAlgorithms([EC, ED])], ['ES256', 'EdDSA', 'Ed25519']);
  });

  it("drops Heroku's identity* fields, an algorithm no key of ours signs, and response types other than code", () => {
    assert.deepEqual(cleanHerokuClient(HEROKU_CLIENT, signableAlgorithms([EC])), { client_id: 'c1', redirect_uris: ['http://127.0.0.1:1/cb'], response_types: ['code'] });
    // With the operator's Ed25519 key kept, the client keeps its algorithm.
    assert.equal(cleanHerokuClient(HEROKU_CLIENT, signableAlgorithms([ED]))?.id_token_signed_response_alg, 'Ed25519');
    assert.equal(cleanHerokuClient({ client_id: 'ours', response_types: ['code'], id_token_signed_response_alg: 'ES256' }, signableAlgorithms([EC])), undefined);
  });

  it('are rewritten clean, with an expiry, when read through the adapter', async () => {
    const store = new MemoryStore();
    await store.set('Client:c1', JSON.stringify(HEROKU_CLIENT), 10);
    const Adapter = createAdapterClass(store, { cleanClient: (p) => cleanHerokuClient(p, signableAlgorithms([EC])) });
    const found = await new Adapter('Client').find('c1');
    assert.equal(found?.identityAuthAccessToken, undefined);
    assert.ok(!(await store.get('Client:c1'))!.includes('plain-text'));
    await store.close();
  });

  it('are all cleaned once at startup, leaving ours untouched', async () => {
    const store = new MemoryStore();
    const ours = JSON.stringify({ client_id: 'ours', response_types: ['code'] });
    await store.set('Client:c1', JSON.stringify(HEROKU_CLIENT), 10);
    await store.set('Client:ours', ours, 10);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    await sweepHerokuClients(store, signableAlgorithms([EC]), 3600, logger);
    assert.ok(!(await store.get('Client:c1'))!.includes('plain-text'));
    assert.equal(await store.get('Client:ours'), ours);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"cleaned":1/);
    // Done once: the next start does not scan again.
    await store.set('Client:c2', JSON.stringify(HEROKU_CLIENT), 10);
    await sweepHerokuClients(store, signableAlgorithms([EC]), 3600, logger);
    assert.match((await store.get('Client:c2'))!, /plain-text/);
    await store.close();
  });
});
