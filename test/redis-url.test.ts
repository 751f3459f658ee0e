import { expect } from 'chai';
import { ConfigError } from '../src/index.js';
import { fromEnv, parsePartial } from '../src/config.js';
import { parseRedisUrl } from '../src/engine/redis-url.js';
import { withoutCredentials } from '../src/log.js';

const PASSWORD = 'hunter2/pass';

describe('Redis URLs', () => {
  it('a redis:// or rediss:// URL names one server, handed to ioredis as written', () => {
    expect(parseRedisUrl('redis://:pw@127.0.0.1:6379/2')).to.deep.equal({ kind: 'server', url: 'redis://:pw@127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://redis.example.com:6380')).to.include({ kind: 'server' });
  });

  it('a redis+sentinel:// URL lists the Sentinels (26379 when no port is given), the master, the db and both passwords', () => {
    const url = `redis+sentinel://app:${encodeURIComponent(PASSWORD)}@10.0.0.1:26379,sentinel-2,[::1]:26380/my%2Dmaster/3?sentinelPassword=s%2Bp&sentinelUsername=watcher`;
    expect(parseRedisUrl(url)).to.deep.equal({
      kind: 'sentinel',
      tls: false,
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'my-master',
      db: 3,
      username: 'app',
      password: PASSWORD,
      sentinelUsername: 'watcher',
      sentinelPassword: 's+p',
    });
  });

  it('rediss+sentinel:// is TLS; a password alone goes after a colon; no credentials is none', () => {
    expect(parseRedisUrl('rediss+sentinel://:pw@h1:26379/mymaster')).to.include({ tls: true, username: null, password: 'pw', sentinelPassword: null, db: 0 });
    expect(parseRedisUrl('redis+sentinel://h1:26379/mymaster')).to.include({ username: null, password: null });
  });

  for (const [url, message] of [
    ['redis+sentinel:///mymaster', 'names no Sentinel: list them as HOST:PORT,HOST:PORT before /MASTER'],
    ['redis+sentinel://h1:26379', 'does not name the master: end it with /MASTER'],
    ['redis+sentinel://h1:26379/', 'does not name the master'],
    ['redis+sentinel://h1:26379,,h2:26379/m', 'has no valid host in Sentinel address 2'],
    ['redis+sentinel://h1:26379;h2:26379/m', 'has no valid host in Sentinel address 1: write HOST:PORT, the host a name, an IPv4 address or [an IPv6 address], and the addresses separated by commas only'],
    ['redis+sentinel://h1:sentinel/m', 'has no valid port in Sentinel address 1'],
    ['redis+sentinel://h1/my%0Amaster', 'does not name the master'],
    ['redis+sentinel://h1:0/m', 'has no valid port in Sentinel address 1: write HOST:PORT with a port from 1 to 65535'],
    ['redis+sentinel://h1:26379,h1:26379/m', 'lists Sentinel address 2 twice'],
    ['redis+sentinel://h1/m/x', 'has a database that is not a number'],
    ['redis+sentinel://h1/m/0/extra', 'has more than /MASTER/DB after its hosts'],
    ['redis+sentinel://h1/m?password=x', 'has a query parameter rooms does not know: the only ones are sentinelPassword and sentinelUsername'],
    ['redis+sentinel://h1/m?sentinelPassword=a&sentinelPassword=b', 'gives sentinelPassword twice'],
    [`redis+sentinel://:${PASSWORD}@h1/m`, 'percent-encode / ? # @ in a password'],
    ['redis+sentinel://:%zz@h1/m', 'has a bad %-escape in its password'],
  ]) {
    it(`refuses ${url}, saying what is wrong and what to write`, () => {
      expect(() => parseRedisUrl(url)).to.throw(TypeError, message);
    });
  }

  it('the redis setting refuses a malformed Sentinel URL with the reason, naming where it came from and never quoting the URL', () => {
    const url = `redis+sentinel://:${encodeURIComponent(PASSWORD)}@h1:26379?sentinelPassword=${encodeURIComponent(PASSWORD)}`;
    let error: unknown;
    try {
      fromEnv({ ROOMS_REDIS: url });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).to.match(/^ROOMS_REDIS does not name the master: end it with \/MASTER/);
    expect(message).not.to.include('hunter2');
    expect(parsePartial({ redis: 'redis+sentinel://h1:26379,h2:26379/mymaster' }, 'options').redis).to.equal('redis+sentinel://h1:26379,h2:26379/mymaster');
  });

  it('the redis setting refuses what is not a Redis URL, saying what to write and never quoting it, a password in the query too', () => {
    const scheme = 'does not start with redis://, rediss://, redis+sentinel:// or redis+cluster:// (rediss for TLS): write redis://HOST:PORT, redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster for Sentinel, or redis+cluster://127.0.0.1:7000,127.0.0.1:7001 for a cluster';
    expect(() => parsePartial({ redis: 'localhost:6379' }, 'options')).to.throw(ConfigError, `options: redis ${scheme}`);
    for (const [url, message] of [
      ['user:hunter2@localhost:6379', scheme],
      ['redis-sentinel://h1:26379/mymaster?sentinelPassword=hunter2', scheme],
      ['redis://h1:6379/0?password=hunter2 Z', 'has a space or control character: percent-encode it (%20 for a space)'],
      ['redis://', 'names no host: write redis://HOST:PORT'],
      ['redis://:hunter2@', 'names no host: write redis://HOST:PORT'],
      ['redis+sentinel://h1:26379/mymaster?sentinelPassword=hunter2&password=hunter2', 'has a query parameter rooms does not know'],
    ]) {
      let error: unknown;
      try {
        fromEnv({ ROOMS_REDIS: url });
      } catch (err) {
        error = err;
      }
      expect(error, url).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).message, url).to.include(`ROOMS_REDIS ${message}`).and.not.include('hunter2');
    }
  });

  it('accepts hosts with underscores and FQDNs with their final dot, a / after the master or db, and a trailing &', () => {
    expect(parseRedisUrl('redis+sentinel://redis_sentinel_1:26379,sentinel.example.com.:26380,_s3/mymaster/')).to.deep.include({
      sentinels: [
        { host: 'redis_sentinel_1', port: 26379 },
        { host: 'sentinel.example.com.', port: 26380 },
        { host: '_s3', port: 26379 },
      ],
      name: 'mymaster',
      db: 0,
    });
    expect(parseRedisUrl('redis+sentinel://h1/mymaster/2/?sentinelPassword=p&')).to.include({ name: 'mymaster', db: 2, sentinelPassword: 'p' });
  });

  it('a redis+cluster:// URL lists the seed nodes (6379 when no port is given) and the credentials; rediss+cluster:// is TLS', () => {
    expect(parseRedisUrl(`redis+cluster://app:${encodeURIComponent(PASSWORD)}@10.0.0.1:7000,redis-2,[::1]:7001`)).to.deep.equal({
      kind: 'cluster',
      tls: false,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-2', port: 6379 },
        { host: '::1', port: 7001 },
      ],
      username: 'app',
      password: PASSWORD,
    });
    expect(parseRedisUrl('rediss+cluster://h1:7000/')).to.include({ kind: 'cluster', tls: true, username: null, password: null });
  });

  for (const [url, message] of [
    ['redis+cluster://', 'names no cluster node: list some as HOST:PORT,HOST:PORT'],
    ['redis+cluster://h1:7000/0', 'has a path or query after its nodes: a cluster takes neither (it has database 0 only)'],
    ['redis+cluster://h1:7000?password=x', 'has a path or query after its nodes'],
    ['redis+cluster://h1:7000,h1:7000', 'lists cluster node address 2 twice: name each cluster node once'],
    ['redis+cluster://h1:70000', 'has no valid port in cluster node address 1: write HOST:PORT with a port from 1 to 65535 (or no port for 6379)'],
    [`redis+cluster://:${PASSWORD}@h1`, 'percent-encode / ? # @ in a password'],
  ]) {
    it(`refuses ${url}, saying what is wrong and what to write`, () => {
      expect(() => parseRedisUrl(url)).to.throw(TypeError, message);
    });
  }

  it('logs and the banner show a cluster URL as its seed nodes, without user or password', () => {
    expect(withoutCredentials(`rediss+cluster://app:${encodeURIComponent(PASSWORD)}@h1:7000,h2`)).to.equal('rediss+cluster://h1:7000,h2:6379');
    expect(withoutCredentials(`redis+cluster://:${PASSWORD}@h1`)).to.equal('(URL not shown)');
  });

  it('logs and the banner show a Sentinel URL as its Sentinels, master and db, without user, passwords or query', () => {
    const url = `rediss+sentinel://app:${encodeURIComponent(PASSWORD)}@h1:26379,h2/mymaster/2?sentinelPassword=${encodeURIComponent(PASSWORD)}`;
    expect(withoutCredentials(url)).to.equal('rediss+sentinel://h1:26379,h2:26379/mymaster/2');
    expect(withoutCredentials('redis+sentinel://h1:26379/mymaster')).to.equal('redis+sentinel://h1:26379/mymaster');
    expect(withoutCredentials(`redis+sentinel://:${PASSWORD}@h1/m`)).to.equal('(URL not shown)');
  });
});
