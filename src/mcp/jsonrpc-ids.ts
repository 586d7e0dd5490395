// JSON-RPC request ids as map keys: 1 and "1" are different requests, so the key keeps the type.
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

export type { RequestId };

export const idKey = (id: RequestId): string => (typeof id === 'string' ? `s:${id}` : `n:${id}`);

export const idOfKey = (key: string): RequestId => (key.startsWith('n:') ? Number(key.slice(2)) : key.slice(2));
