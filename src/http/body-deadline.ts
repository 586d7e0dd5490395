// A request body must arrive within a time bound: the server's own request timeout is off (an
// MCP event stream may stay open for hours), so without this a client sending a byte a minute
// would hold a connection, a parser and a Redis-backed request open for ever. Only response
// streams may be long; each class of endpoint gets its own bound for the body.
import type { RequestHandler } from 'express';
import { problems, sendProblem } from './problems.js';

export function bodyDeadline(ms: number): RequestHandler {
  return (req, res, next) => {
    const length = req.headers['content-length'];
    const hasBody = length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || req.readableEnded) return next();
    const timer = setTimeout(() => {
      if (req.readableEnded || res.writableFinished) return;
      // The connection goes too: what is left of the body would be read as the next request.
      res.once('finish', () => req.socket.destroy());
      sendProblem(res, problems.bodyTooSlow(ms));
    }, ms);
    const done = () => clearTimeout(timer);
    req.once('end', done);
    req.once('close', done);
    res.once('finish', done);
    next();
  };
}
