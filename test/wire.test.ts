import { expect } from 'chai';
import fc from 'fast-check';
import { decodeWire } from '../src/engine/wire.js';

/** A `p` message as the publish script writes it: each publication's JSON length in bytes. */
function batch(...publications: { seq: number; epoch: string; route: string; json: string }[]): Buffer {
  return Buffer.from('p' + publications.map((p) => `${p.seq} ${p.epoch} ${Buffer.byteLength(p.json)} ${p.route}\n${p.json}`).join(''));
}

const route = '{"from":"a b","echo":true}';

describe('the Redis Pub/Sub wire format', () => {
  it('decodes the publications of a batch in order, their JSON cut by byte length, multibyte text included', () => {
    const json = (text: string, seq: number): string => JSON.stringify({ event: 'message', message: text, seq });
    const decoded = decodeWire(batch({ seq: 7, epoch: 'e1', route, json: json('✓ 😀', 7) }, { seq: 8, epoch: 'e1', route: '{"from":"b","to":["c d"],"echo":false}', json: json('two\nlines', 8) }));
    expect(decoded).to.deep.equal({
      kind: 'publications',
      publications: [
        { seq: 7, epoch: 'e1', route: { from: 'a b', echo: true }, json: json('✓ 😀', 7) },
        { seq: 8, epoch: 'e1', route: { from: 'b', to: ['c d'], echo: false }, json: json('two\nlines', 8) },
      ],
    });
  });

  it('decodes a route holding U+2028 or U+2029, which JSON.stringify leaves as they are', () => {
    const route = JSON.stringify({ from: 'a\u2028b', echo: true, dedup: 'a\u2028b\u0000x\u2029' });
    const decoded = decodeWire(batch({ seq: 1, epoch: 'e1', route, json: '{}' }));
    expect(decoded).to.have.nested.property('publications[0].route.dedup', 'a\u2028b\u0000x\u2029');
  });

  it('refuses a malformed batch whole', () => {
    const good = `1 e1 2 ${route}\n{}`;
    for (const bad of ['p', `p1 e1 2 ${route}{}`, `p0 e1 2 ${route}\n{}`, `p01 e1 2 ${route}\n{}`, `p1  2 ${route}\n{}`, `p1 e1 0 ${route}\n`, `p1 e1 3 ${route}\n{}`, `p1 e1 2e0 ${route}\n{}`, 'p1 e1 2 {"echo":true}\n{}', `p1 e1 2 ${route}\n{}2 e1`, `p${good}x`]) {
      expect(decodeWire(Buffer.from(bad)), JSON.stringify(bad)).to.equal(null);
    }
    expect(decodeWire(Buffer.from(`p${good}${good.replace('1 e1', '2 e1')}`))).to.have.nested.property('publications.length', 2);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(0x70, 0x6a, 0x6c, 0x74, 0x62), (bytes, type) => {
        decodeWire(Buffer.from([type, ...bytes]));
      }),
      { numRuns: 2_000 },
    );
  });
});
