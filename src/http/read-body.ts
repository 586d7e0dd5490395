// A request body read whole, for the few places that must see it before deciding (the policy, a
// stdio session's first request): bounded, and a Problem in place of a body over the cap.
import type { IncomingMessage } from 'node:http';
import { problems, type Problem } from './problems.js';

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | Problem> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return problems.bodyTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
