// A webhook endpoint for rooms, with Node's http module only: checks the X-Rooms-Signature of
// each request against the exact bytes of its body, then prints the events.
// Run: ROOMS_WEBHOOK_SECRET=... node docs/examples/webhook-receiver.mjs 8080
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.ROOMS_WEBHOOK_SECRET;
const port = Number(process.argv[2] ?? 8080);

/** Whether `header` is `sha256=` and the hex HMAC-SHA256 of `body` (a Buffer, as received) under `secret`. */
function verify(body, header, key = secret) {
  const expected = Buffer.from(`sha256=${createHmac('sha256', key).update(body).digest('hex')}`);
  const given = Buffer.from(String(header ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verify(body, req.headers['x-rooms-signature'])) return res.writeHead(401).end();
    const { time_ms, events } = JSON.parse(body.toString());
    // Refuse old requests, so a captured one cannot be replayed later.
    if (Math.abs(Date.now() - time_ms) > 5 * 60_000) return res.writeHead(400).end();
    for (const event of events) console.log(JSON.stringify(event));
    res.writeHead(204).end();
  });
});

server.listen(port, '127.0.0.1', () => console.log(`webhook receiver on http://127.0.0.1:${port}/`));
