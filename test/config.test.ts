import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ConfigError, DEFAULTS, ERRORS, SETTINGS, createRoomServer } from '../src/index.js';
import { fromEnv, mergeConfig, parsePartial } from '../src/config.js';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('configuration', () => {
  it('config/default.json holds exactly the embedded defaults', () => {
    expect(JSON.parse(read('config/default.json'))).to.deep.equal(DEFAULTS);
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
      if (row.close !== undefined) expect(lines.some((l) => l.includes(`| ${row.close}`)), `${code} close`).to.equal(true);
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
    ['secret', 'short', 'options: secret must be a string of at least 16 characters, or null (got "short")'],
    ['reapSchedule', 'every minute', 'options: reapSchedule must be a cron expression such as "*/5 * * * *" (got "every minute")'],
    ['host', '', 'options: host must be a host name or IP address (got "")'],
  ] as const) {
    it(`refuses ${setting} = ${JSON.stringify(value)} with a TypeError saying what it accepts`, () => {
      expect(() => parsePartial({ [setting]: value }, 'options')).to.throw(ConfigError, message);
    });
  }

  it('createRoomServer refuses unknown settings', () => {
    expect(() => createRoomServer({ prot: 1 } as never)).to.throw(TypeError, 'createRoomServer options: unknown setting "prot"');
  });
});
