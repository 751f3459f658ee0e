import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ConfigError, DEFAULTS, ERRORS, SETTINGS, createRoomServer } from '../src/index.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromEnv, loadConfigFile, mergeConfig, parsePartial } from '../src/config.js';
import { onCleanup } from './support/cleanup.js';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('configuration', () => {
  // config/default.json is generated; regenerate it with: npx tsx -e "import('./src/config.ts').then(({ DEFAULTS }) => process.stdout.write(JSON.stringify(DEFAULTS, null, 2) + '\n'))" > config/default.json
  it('config/default.json holds exactly the embedded defaults, in the order of the settings table', () => {
    expect(read('config/default.json')).to.equal(`${JSON.stringify(DEFAULTS, null, 2)}\n`);
  });

  it('docs/configuration.md documents every setting with its env variable and flag', () => {
    const doc = read('docs/configuration.md');
    for (const s of SETTINGS) {
      expect(doc, s.key).to.include(`\`${s.key}\``);
      expect(doc, s.env).to.include(s.env);
      if (s.flag !== undefined) expect(doc, s.flag).to.include(`--${s.flag}`);
    }
  });

  it('docs/errors.md documents every error code with its status and close code', () => {
    const rows = read('docs/errors.md').split('\n');
    for (const [code, row] of Object.entries(ERRORS)) {
      const lines = rows.filter((line) => line.startsWith(`| \`${code}\` |`));
      expect(lines, code).to.not.be.empty;
      if (row.status !== undefined) expect(lines.some((l) => l.includes(`| ${row.status} |`)), `${code} status`).to.equal(true);
      const close = row.close?.code;
      if (close !== undefined) expect(lines.some((l) => l.includes(`| ${close}`)), `${code} close`).to.equal(true);
    }
  });

  it('later layers win: defaults < file < env < flags', () => {
    const merged = mergeConfig(parsePartial({ port: 1, host: '0.0.0.0' }, 'file'), fromEnv({ ROOMS_PORT: '2' }), { port: 3 });
    expect(merged).to.include({ port: 3, host: '0.0.0.0', logLevel: 'info' });
  });

  it('env lists paths separated by commas', () => {
    expect(fromEnv({ ROOMS_PATHS: '/a, /b' }).paths).to.deep.equal(['/a', '/b']);
  });

  for (const [setting, value, message] of [
    ['port', -1, 'options: port must be an integer from 0 to 65535 (got -1)'],
    ['port', 1.5, 'options: port must be an integer from 0 to 65535 (got 1.5)'],
    ['paths', [], 'options: paths must be a non-empty list of URL paths (got [])'],
    ['paths', ['/a', '/a'], 'options: paths must be a list of distinct URL paths (got ["/a","/a"])'],
    ['paths', ['/a?b'], 'options: paths must be a URL path starting with / made of A-Z a-z 0-9 . _ ~ - / (got "/a?b")'],
    ['logLevel', 'loud', 'options: logLevel must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    ['secret', 'short', 'options: secret must be a string of at least 16 characters, or null (got 5 characters; the value is not shown)'],
    ['reapSchedule', 'every minute', 'options: reapSchedule must be a cron expression such as "*/5 * * * *" (got "every minute")'],
    ['host', '', 'options: host must be a host name or IP address (got "")'],
    ['apiKeys', [{ name: 'backend', key: 'short' }], 'options: apiKeys[0].key (of "backend") must be a string of at least 16 characters without spaces'],
    ['apiKeys', [{ name: 'back end', key: 'k'.repeat(16) }], 'options: apiKeys[0].name must be 1 to 32 characters of A-Z a-z 0-9 . _ -'],
    ['apiKeys', [{ name: 'a', key: 'k'.repeat(16), role: 'x' }], 'options: apiKeys[0] must be an object with "name" and "key" only'],
    ['apiKeys', [{ name: 'a', key: 'k'.repeat(16) }, { name: 'a', key: 'j'.repeat(16) }], 'options: apiKeys: the name "a" is given twice; names must be unique'],
    ['apiKeys', [{ name: 'a', key: 'k'.repeat(16) }, { name: 'b', key: 'k'.repeat(16) }], 'options: apiKeys: two entries have the same key; keys must be unique'],
    ['apiKeys', 'backend:key', 'options: apiKeys must be a list of {"name","key"} objects, as JSON in the environment'],
    ['apiMaxBodyBytes', 10, 'options: apiMaxBodyBytes must be an integer from 64 to 104857600 (got 10)'],
    ['webhooks', [{ url: 'ftp://x', events: ['member_added'] }], 'options: webhooks[0].url must be an http:// or https:// URL (got "ftp://x")'],
    ['webhooks', [{ url: 'http://x/', events: ['member_joined'] }], 'options: webhooks[0].events must be a list of events from channel_occupied, channel_vacated, member_added, member_removed (got "member_joined")'],
    ['webhooks', [{ url: 'http://x/', events: [] }], 'options: webhooks[0].events must be a non-empty list of distinct events from channel_occupied, channel_vacated, member_added, member_removed (got [])'],
    ['webhooks', [{ url: 'http://x/' }], 'options: webhooks[0].events must be a non-empty list of distinct events'],
    ['webhookSecret', 'short', 'options: webhookSecret must be a string of at least 16 characters, or null (got 5 characters; the value is not shown)'],
    ['jwtSecret', 'short', 'options: jwtSecret must be a string of at least 32 characters, or null (got 5 characters; the value is not shown)'],
    ['jwtSecret', 12345, 'options: jwtSecret must be a string of at least 32 characters, or null (got a number; the value is not shown)'],
    ['secret', 'Z', 'options: secret must be a string of at least 16 characters, or null (got 1 character; the value is not shown)'],
    ['secret', { key: 'Zq9' }, 'options: secret must be a string of at least 16 characters, or null (got an object; the value is not shown)'],
    ['webhookRetries', 101, 'options: webhookRetries must be an integer from 0 to 100 (got 101)'],
    ['tickBudget', -1, 'options: tickBudget must be an integer from 0 to 1000 (got -1)'],
    ['workers', 0, 'options: workers must be an integer from 1 to 1024, or auto for one per CPU (got 0)'],
    ['workers', -1, 'options: workers must be an integer from 1 to 1024, or auto for one per CPU (got -1)'],
    ['workers', 'x', 'options: workers must be an integer from 1 to 1024, or auto for one per CPU (got "x")'],
    ['workers', 1.5, 'options: workers must be an integer from 1 to 1024, or auto for one per CPU (got 1.5)'],
    ['workers', 1025, 'options: workers must be an integer from 1 to 1024, or auto for one per CPU (got 1025)'],
  ] as const) {
    it(`refuses ${setting} = ${JSON.stringify(value)} with a TypeError saying what it accepts`, () => {
      expect(() => parsePartial({ [setting]: value }, 'options')).to.throw(ConfigError, message);
    });
  }

  it('never echoes an API key in an error', () => {
    const key = 'secret with spaces in it';
    for (const value of [[{ name: 'a', key }], `[{"name":"a","key":"${key}"`]) {
      expect(() => parsePartial({ apiKeys: value }, 'options')).to.throw(ConfigError).that.satisfies((err: Error) => !err.message.includes(key));
    }
  });

  it('never echoes a secret in an error, from options or the environment', () => {
    const env = { secret: 'ROOMS_SECRET', jwtSecret: 'ROOMS_JWT_SECRET', webhookSecret: 'ROOMS_WEBHOOK_SECRET' } as const;
    for (const [setting, variable] of Object.entries(env)) {
      for (const value of ['hunter2', 'Zq9', 123456789]) {
        const hidden = (err: Error): boolean => !err.message.includes(String(value)) && err.message.includes('the value is not shown');
        expect(() => parsePartial({ [setting]: value }, 'options'), setting).to.throw(ConfigError).that.satisfies(hidden);
        if (typeof value === 'string') expect(() => fromEnv({ [variable]: value }), variable).to.throw(ConfigError).that.satisfies(hidden);
      }
    }
  });

  it('reads API keys and webhooks from the environment as JSON', () => {
    const env = fromEnv({
      ROOMS_API_KEYS: '[{"name":"backend","key":"0123456789abcdef"}]',
      ROOMS_WEBHOOKS: '[{"url":"https://hooks.example.com/rooms","events":["member_added"]}]',
    });
    expect(env.apiKeys).to.deep.equal([{ name: 'backend', key: '0123456789abcdef' }]);
    expect(env.webhooks).to.deep.equal([{ url: 'https://hooks.example.com/rooms', events: ['member_added'] }]);
  });

  it('workers auto is one per CPU this process may use, from a file, the environment or a flag', () => {
    expect(parsePartial({ workers: 'auto' }, 'options').workers).to.equal(availableParallelism());
    expect(fromEnv({ ROOMS_WORKERS: 'auto' }).workers).to.equal(availableParallelism());
    expect(fromEnv({ ROOMS_WORKERS: '4' }).workers).to.equal(4);
  });

  it('refuses more than one worker without Redis, and says what to do', () => {
    expect(() => mergeConfig({ workers: 2 })).to.throw(ConfigError, 'workers 2 needs redis: each worker is a node, and nodes share channels only through Redis; set --redis (or ROOMS_REDIS), or run one worker');
    expect(mergeConfig({ workers: 2, redis: 'redis://127.0.0.1:6379' })).to.include({ workers: 2 });
    expect(mergeConfig({ workers: 1 })).to.include({ workers: 1 });
  });

  it('refuses webhooks without webhookSecret', () => {
    const webhooks = [{ url: 'http://127.0.0.1:9/', events: ['member_added' as const] }];
    expect(() => mergeConfig({ webhooks })).to.throw(ConfigError, 'webhooks need webhookSecret to sign their requests');
  });

  it('refuses, with Redis, a redisTimeout not below 0.6 x presenceTtl, and says which to change', () => {
    const redis = 'redis://127.0.0.1:6379';
    expect(() => mergeConfig({ redis, presenceTtl: 2_000 })).to.throw(
      ConfigError,
      'redisTimeout (2000 ms) must be below 0.6 x presenceTtl (1200 ms), or a stalled Redis gets live members removed: lower redisTimeout or raise presenceTtl',
    );
    expect(mergeConfig({ redis, presenceTtl: 2_000, redisTimeout: 1_000 })).to.include({ redisTimeout: 1_000 });
    expect(mergeConfig({ presenceTtl: 2_000 }), 'no Redis, no rule').to.include({ presenceTtl: 2_000 });
  });

  it('a config file that is not JSON gets the line of the fault, never the text around it (it may be a secret)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rooms-config-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const bare = join(dir, 'bare.json');
    await writeFile(bare, '{\n  "jwtSecret": unquotedsecretvalue1234567890abcdef\n}\n');
    expect(() => loadConfigFile(bare)).to.throw(ConfigError, `--config ${bare}: not valid JSON; check the commas, quotes and braces there`);
    const comma = join(dir, 'comma.json');
    await writeFile(comma, '{\n  "jwtSecret": "quotedsecretvalue1234567890abcdef" "port": 1\n}\n');
    expect(() => loadConfigFile(comma)).to.throw(ConfigError, `--config ${comma}: not valid JSON at line 2; check the commas, quotes and braces there`);
  });

  it('createRoomServer refuses unknown settings', () => {
    expect(() => createRoomServer({ prot: 1 } as never)).to.throw(TypeError, 'createRoomServer options: unknown setting "prot"');
  });
});
