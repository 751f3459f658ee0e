import { readFileSync } from 'node:fs';
import { expect } from 'chai';

/** The regex of the `location ~ ... {` block that fences the private endpoints, in one Nginx config text. */
function fence(text: string): RegExp {
  const found = /location ~ (\S+) \{/.exec(text);
  if (found === null) throw new Error('no regex location block');
  return new RegExp(found[1]);
}

describe('the Nginx configs fence the private endpoints', () => {
  const shipped = readFileSync(new URL('../config/nginx.conf', import.meta.url), 'utf8');
  const documented = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');

  it('config/nginx.conf and docs/operations.md fence the same paths', () => {
    expect(fence(shipped).source).to.equal(fence(documented).source);
  });

  it('fences /metrics, /channels, the API and the admin page, and nothing that members need', () => {
    const pattern = fence(shipped);
    for (const path of ['/metrics', '/channels', '/api', '/api/channels', '/api/channels/channel/1/messages', '/admin', '/admin/admin.js']) {
      expect(pattern.test(path), path).to.equal(true);
    }
    for (const path of ['/', '/chat/chat.js', '/channel', '/livez', '/readyz', '/healthz', '/apartment', '/channels-of-mine']) {
      expect(pattern.test(path), path).to.equal(false);
    }
  });
});
