import { expect } from 'chai';
import fc from 'fast-check';
import { DEFAULTS, LOG_LEVELS, SETTINGS, fromEnv, mergeConfig, parsePartial, type Config } from '../src/config.js';
import { ConfigError, ERRORS } from '../src/errors.js';
import { decode } from '../src/protocol/decode.js';
import type { EventName } from '../src/protocol/messages.js';

/** Every event decode may accept; a Record so that a new event in messages.ts fails the typecheck here. */
const KNOWN: Record<EventName, true> = { auth: true, user_list: true, talk_with: true, broadcast: true, helloworld: true, close: true, error: true, refresh: true };
const EVENTS = Object.keys(KNOWN) as EventName[];
const RUNS = { numRuns: 500 };

// ---------------------------------------------------------------------------------------------
// Generators for decode: JSON text written by hand, so that `__proto__` stays an own key (as
// JSON.parse makes it) and a key may repeat, as a hostile client may send it.

/** A JSON value's text: a serialized value, or number and string spellings JSON.stringify never writes. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-1e999', '-0', '1E-400', '"\\ud800"', '"\\u0000"', '"a\\u0007b"', '[]', '{}', 'null') },
);

/** Units for names: any code point, lone surrogates, control characters, and the whitespace trim() removes. */
const nameUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028', '\ufeff', '\u3000', '\u200b', '\u0085') },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f).map((c) => String.fromCharCode(c)) },
);
const name: fc.Arbitrary<string> = fc.string({ unit: nameUnit, maxLength: 40 });

/** The text of a value for each field decode reads, mostly of the right type, often not. */
const FIELD_VALUES: Record<string, fc.Arbitrary<string>> = {
  event: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...EVENTS).map((e) => JSON.stringify(e)) }, { weight: 1, arbitrary: fc.string().map((s) => JSON.stringify(s)) }, { weight: 1, arbitrary: jsonText }),
  user: fc.oneof({ weight: 3, arbitrary: name.map((s) => JSON.stringify(s)) }, { weight: 1, arbitrary: jsonText }),
  presence: fc.oneof(fc.boolean().map(String), jsonText),
  id: fc.oneof(fc.string({ maxLength: 80 }).map((s) => JSON.stringify(s)), fc.double().map(String).filter((s) => /^-?[\d.e+-]+$/.test(s)), jsonText),
  auth: fc.oneof(fc.string().map((s) => JSON.stringify(s)), jsonText),
  with_cilents: fc.oneof(fc.array(fc.string({ maxLength: 8 })).map((a) => JSON.stringify(a)), fc.array(fc.jsonValue(), { maxLength: 3 }).map((a) => JSON.stringify(a)), jsonText),
  with_clients: fc.oneof(fc.array(fc.string({ maxLength: 8 })).map((a) => JSON.stringify(a)), jsonText),
  message: jsonText,
};
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

const member: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...Object.keys(FIELD_VALUES)).chain((k) => FIELD_VALUES[k].map((v): [string, string] => [k, v])) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...HOSTILE_KEYS), jsonText) },
  { weight: 1, arbitrary: fc.tuple(fc.string(), jsonText) },
);

/** An object's JSON text: usually an `event` first, then random members (any may repeat). */
const objectText: fc.Arbitrary<string> = fc
  .tuple(fc.option(FIELD_VALUES.event, { freq: 5 }), fc.array(member, { maxLength: 8 }))
  .map(([event, rest]) => {
    const members = event === null ? rest : [['event', event] as [string, string], ...rest];
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
  });

/** An auth request, with the name padded and often a presence flag and an id. */
const authText: fc.Arbitrary<string> = fc
  .record({ user: FIELD_VALUES.user, presence: fc.option(FIELD_VALUES.presence), id: fc.option(FIELD_VALUES.id) })
  .map(({ user, presence, id }) => `{"event":"auth","user":${user}${presence === null ? '' : `,"presence":${presence}`}${id === null ? '' : `,"id":${id}`}}`);

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Decodes and checks the contract every input must meet; returns the result for further checks. */
function decodeChecked(text: string): ReturnType<typeof decode> {
  const result = decode(text);
  if (result.ok) {
    expect(EVENTS, `event of ${text}`).to.include(result.request.event);
  } else {
    expect(Object.hasOwn(ERRORS, result.code), `code ${String(result.code)} for ${text}`).to.equal(true);
  }
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), 'Object.prototype').to.deep.equal(PROTO_KEYS);
  expect(Object.keys({}), 'keys of {}').to.deep.equal([]);
  return result;
}

describe('properties', () => {
  describe('decode', () => {
    it('never throws on arbitrary text, and answers a known event or a known error code', () => {
      fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string()), (text) => void decodeChecked(text)), RUNS);
    });

    it('never throws on any JSON value, and answers a known event or a known error code', () => {
      fc.assert(fc.property(fc.jsonValue().map((v) => JSON.stringify(v)), (text) => void decodeChecked(text)), RUNS);
    });

    it('on objects with known and random events and hostile fields, answers a known error or the event it was sent', () => {
      let accepted = 0;
      fc.assert(
        fc.property(objectText, (text) => {
          const result = decodeChecked(text);
          if (result.ok) {
            accepted += 1;
            expect(result.request.event).to.equal((JSON.parse(text) as { event: unknown }).event);
            expect(Object.getPrototypeOf(result.request)).to.equal(Object.prototype);
          }
        }),
        { numRuns: 1000 },
      );
      expect(accepted, 'runs that decoded to a request').to.be.above(0);
    });

    it('accepts a name only as a trimmed string of 1 to 32 code points without control characters', () => {
      let accepted = 0;
      fc.assert(
        fc.property(fc.oneof(authText, objectText), (text) => {
          const result = decodeChecked(text);
          if (!result.ok || result.request.event !== 'auth') return;
          const { user, presence } = result.request;
          expect(presence).to.be.a('boolean');
          // Without a user, auth names the connection from a token (token mode) or is refused.
          if (user === undefined) return;
          accepted += 1;
          expect(user.trim(), 'trimmed').to.equal(user);
          expect([...user].length, `code points of ${JSON.stringify(user)}`).to.be.within(1, 32);
          expect(/\p{Cc}/u.test(user), `control characters in ${JSON.stringify(user)}`).to.equal(false);
        }),
        { numRuns: 1000 },
      );
      expect(accepted, 'runs that decoded to an auth request').to.be.above(0);
    });
  });

  describe('settings', () => {
    type Key = keyof Config;
    const KEYS = SETTINGS.map((s) => s.key);

    /** Values a setting may plausibly be given, of the right type or nearly. */
    const PLAUSIBLE: Partial<Record<Key, fc.Arbitrary<unknown>>> = {
      port: fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.double()),
      host: fc.constantFrom('127.0.0.1', '0.0.0.0', 'localhost', '::1', ' ', 'a b', ''),
      paths: fc.oneof(fc.array(fc.constantFrom('/channel', '/room', '/a/b', 'nope', '/a?b', '/'), { maxLength: 3 }), fc.constant('/a, /b')),
      logLevel: fc.constantFrom(...LOG_LEVELS, 'loud', 'INFO'),
      secret: fc.oneof(fc.constant(null), fc.string({ minLength: 10, maxLength: 24 })),
      reapSchedule: fc.constantFrom('*/5 * * * *', '* * * * *', '0 0 * * 0', '1-0 * * * *', '*/0 * * * *', 'every minute', '* * * * * * *'),
      apiKeys: fc.array(fc.record({ name: fc.constantFrom('backend', 'ops', 'a b', ''), key: fc.string({ minLength: 10, maxLength: 24 }) }), { maxLength: 3 }),
      webhooks: fc.array(fc.record({ url: fc.constantFrom('http://127.0.0.1:9/h', 'https://example.com', 'ftp://x', 'http://'), events: fc.array(fc.constantFrom('member_added', 'channel_vacated', 'nope'), { maxLength: 3 }) }), { maxLength: 2 }),
    };
    /** What the items of a list setting are, for lists whose default is empty. */
    const ITEMS: Partial<Record<Key, string>> = { allowedOrigins: 'string', apiKeys: 'object', webhooks: 'object' };
    const numeric = fc.oneof(fc.integer({ min: -5, max: 2_000_000_000 }), fc.integer({ min: 0, max: 100_000 }).map((n) => ` ${n} `));
    const valueFor = (key: Key): fc.Arbitrary<unknown> =>
      fc.oneof({ weight: 3, arbitrary: PLAUSIBLE[key] ?? (typeof DEFAULTS[key] === 'number' ? numeric : fc.jsonValue()) }, { weight: 1, arbitrary: fc.jsonValue() });

    /** Objects of known settings only, so that some parse; and objects with random and hostile keys too. */
    const knownOnly = fc.record(Object.fromEntries(KEYS.map((k) => [k, valueFor(k)])) as Record<Key, fc.Arbitrary<unknown>>, { requiredKeys: [] });
    const anyKeys = fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom(...HOSTILE_KEYS), fc.string()), fc.jsonValue()), { maxLength: 6 })
      .map((entries) => Object.fromEntries(entries));
    const jsonInput: fc.Arbitrary<unknown> = fc.oneof({ weight: 4, arbitrary: knownOnly }, { weight: 2, arbitrary: anyKeys }, { weight: 1, arbitrary: fc.jsonValue() });

    /** Every field of the merged config has the type of the same field in DEFAULTS (secret: string or null). */
    function expectConfigShape(config: Config): void {
      expect(Object.keys(config).sort()).to.deep.equal(Object.keys(DEFAULTS).sort());
      for (const key of Object.keys(DEFAULTS) as Key[]) {
        const want = DEFAULTS[key];
        const got: unknown = config[key];
        if (want === null) {
          expect(got === null || typeof got === 'string', `${key} ${String(got)}`).to.equal(true);
        } else if (Array.isArray(want)) {
          expect(got, key).to.be.an('array');
          for (const item of got as unknown[]) expect(item, key).to.be.a(want.length > 0 ? typeof want[0] : ITEMS[key]!);
        } else if (typeof want === 'number') {
          expect(Number.isInteger(got), `${key} = ${String(got)}`).to.equal(true);
        } else {
          expect(typeof got, key).to.equal(typeof want);
        }
      }
      expect(LOG_LEVELS).to.include(config.logLevel);
    }

    /** Runs a parser: a ConfigError is a fine answer, any other throw fails; a result must merge to a well-typed Config. */
    function parseChecked(parse: () => Partial<Config>, counts: { parsed: number; refused: number }): void {
      let partial: Partial<Config>;
      let merged: Config;
      try {
        partial = parse();
        // Settings that only go together (webhooks need webhookSecret) are refused by the merge.
        merged = mergeConfig(partial);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        counts.refused += 1;
        return;
      }
      counts.parsed += 1;
      for (const key of Object.keys(partial)) expect(KEYS, `returned key ${key}`).to.include(key);
      expectConfigShape(merged);
      expect(Object.getOwnPropertyNames(Object.prototype).sort(), 'Object.prototype').to.deep.equal(PROTO_KEYS);
    }

    it('parsePartial turns any JSON input into well-typed settings or a ConfigError', () => {
      const counts = { parsed: 0, refused: 0 };
      fc.assert(fc.property(jsonInput, (input) => parseChecked(() => parsePartial(input, 'config/test.json'), counts)), { numRuns: 1000 });
      expect(counts.parsed, 'inputs that parsed').to.be.above(0);
      expect(counts.refused, 'inputs refused').to.be.above(0);
    });

    it('parsePartial given options of any JavaScript type (as createRoomServer is) throws nothing but a ConfigError', () => {
      const counts = { parsed: 0, refused: 0 };
      const anything = fc.anything({ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, maxDepth: 2 });
      const anyValue = fc.oneof(anything, fc.bigInt(), fc.constantFrom(Symbol('s'), () => 1, undefined, Number.NaN, Infinity));
      const options = fc.record(Object.fromEntries(KEYS.map((k) => [k, fc.oneof(valueFor(k), anyValue)])) as Record<Key, fc.Arbitrary<unknown>>, { requiredKeys: [] });
      fc.assert(fc.property(fc.oneof(options, anyValue), (input) => parseChecked(() => parsePartial(input, 'createRoomServer options'), counts)), RUNS);
      expect(counts.parsed, 'inputs that parsed').to.be.above(0);
    });

    /** How a value reads when written into an environment variable. */
    const envText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));

    it('fromEnv turns any environment into well-typed settings or a ConfigError', () => {
      const counts = { parsed: 0, refused: 0 };
      const envNames = SETTINGS.map((s) => s.env);
      const plausible = (key: Key): fc.Arbitrary<string> =>
        valueFor(key).map((v) => (Array.isArray(v) ? v.map(envText).join(',') : envText(v)));
      const known = fc.record(Object.fromEntries(SETTINGS.map((s) => [s.env, fc.oneof(plausible(s.key), fc.string({ unit: 'binary', maxLength: 20 }))])), { requiredKeys: [] });
      const random = fc
        .array(fc.tuple(fc.oneof(fc.constantFrom(...envNames), fc.constantFrom(...HOSTILE_KEYS), fc.string()), fc.string({ unit: 'binary' })), { maxLength: 6 })
        .map((entries) => Object.fromEntries(entries));
      fc.assert(
        fc.property(fc.oneof({ weight: 3, arbitrary: known }, { weight: 1, arbitrary: random }), (env: NodeJS.ProcessEnv) => parseChecked(() => fromEnv(env), counts)),
        { numRuns: 1000 },
      );
      expect(counts.parsed, 'environments that parsed').to.be.above(0);
      expect(counts.refused, 'environments refused').to.be.above(0);
    });
  });
});
