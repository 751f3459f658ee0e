import { connect as tcp, type Socket } from 'node:net';
import { onCleanup } from './cleanup.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection after answering. */
  closed: boolean;
}

/** Opens a plain TCP connection to the server, closed after the test. */
export async function openSocket(port: number): Promise<Socket> {
  const socket = tcp({ port, host: '127.0.0.1' });
  onCleanup(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Sends a raw HTTP request on a socket and reads the response until the server closes it. */
export function rawRequest(socket: Socket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(parse(Buffer.concat(chunks).toString(), true)));
    socket.write(request);
  });
}

/** An upgrade request for a path, with a valid WebSocket key unless headers replace it. */
export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}: ${v}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

function parse(text: string, closed: boolean): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: split === -1 ? '' : text.slice(split + 4), closed };
}

/**
 * Sends an upgrade request and resolves with the response: at once for a 101 (the connection stays
 * open), or with the body once the server has closed the connection for a refusal.
 */
export function tryUpgrade(socket: Socket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.startsWith('HTTP/1.1 101') && text.includes('\r\n\r\n')) resolve(parse(text, false));
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(parse(text, true)));
    socket.write(request);
  });
}
