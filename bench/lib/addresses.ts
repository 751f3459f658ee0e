// Source addresses for client sockets: 127.0.0.2 to 127.0.0.254 (127.0.0.1 is the server's),
// handed out in rotation so that consecutive runs bind different addresses.

const FIRST = 2;
const COUNT = 253;
/** Sockets per source address: far below the ~28,000 ephemeral ports each address has. */
const PER_ADDRESS = 500;

let cursor = 0;

export function localAddresses(sockets: number): string[] {
  const count = Math.min(COUNT, Math.max(1, Math.ceil(sockets / PER_ADDRESS)));
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(`127.0.0.${FIRST + ((cursor + i) % COUNT)}`);
  cursor = (cursor + count) % COUNT;
  return addresses;
}
