import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { DEFAULTS, SETTINGS, fromEnv, loadConfigFile, mergeConfig, readSettings, type Config } from './config.js';
import { mintToken } from './auth/jwt.js';
import { runTerminal } from './terminal.js';
import { ConfigError } from './errors.js';
import { createLogger, withoutCredentials } from './log.js';
import { validName } from './protocol/decode.js';
import { RoomServer } from './server.js';
import { Primary, WorkerFailed } from './workers/primary.js';
import { WorkerSeat } from './workers/seat.js';

const PACKAGE_ROOT = new URL('../', import.meta.url);
const DEFAULT_CONFIG = fileURLToPath(new URL('config/default.json', PACKAGE_ROOT));

/** Exit codes: 0 done, 1 the server could not run, 2 bad usage (a flag, a setting, a config file). */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** A failure the CLI reports in one line and turns into an exit code. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface Io {
  env: NodeJS.ProcessEnv;
  /** Read only by `rooms connect`: merely touching process.stdin sets it up, which serve must not do. */
  stdin: () => Readable;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Runs `rooms` with the given arguments (without node and the script) and resolves with the exit code. */
export async function main(args: string[], io: Io = defaultIo()): Promise<number> {
  let code = 0;
  const program = new Command('rooms')
    .description('A WebSocket room server: clients connect to ws://HOST:PORT/<path>?id=<channel> and speak JSON events.')
    .version(version(), '-v, --version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run rooms --help for usage)');
  const serveAction = async (flags: Record<string, unknown>): Promise<void> => {
    code = await serve(flags, io);
  };
  serveOptions(program).action(serveAction);
  serveOptions(program.command('serve').description('start the server (what rooms does with no command)')).action(serveAction);
  program
    .command('token')
    .description('print a token signed with jwtSecret, as your application would mint one')
    .requiredOption('--user <name>', 'the user the token names (its sub)')
    .option('--channel <id>', 'a channel id or path:id pattern the token allows; repeat for several (default: any)', collect)
    .option('--ttl <seconds>', 'seconds until the token expires (default: 300)')
    .option('-c, --config <file>', 'JSON config file holding jwtSecret')
    .action(async (flags: Record<string, unknown>) => {
      await token(flags, io);
    });
  program
    .command('connect')
    .description('chat in a channel from the terminal: a line is sent to everyone; /msg NAME TEXT, /who, /quit. With piped input, sends each line, waits for its reply, and exits')
    .argument('<url>', 'the channel URL, such as ws://127.0.0.1:3000/channel?id=1')
    .option('--user <name>', 'the name to join as (open mode)')
    .option('--token <jwt>', 'a token from your application (token mode)')
    .option('--no-presence', 'do not show members joining and leaving')
    .action(async (url: string, flags: Record<string, unknown>) => {
      code = await connect(url, flags, io);
    });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      const done = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      return done ? 0 : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      io.stderr(`rooms: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  return code;
}

/** The serve options, built from the settings table so that --help, the docs and the parser agree. */
function serveOptions(command: Command): Command {
  command.option('-c, --config <file>', 'JSON config file read over config/default.json');
  for (const setting of SETTINGS) {
    if (setting.flag === undefined) continue;
    const shown = JSON.stringify(DEFAULTS[setting.key]);
    const describe = `${setting.describe} (default: ${shown}; env ${setting.env})`;
    if (setting.key === 'paths' || setting.key === 'allowedOrigins') {
      command.option(`--${setting.flag} ${setting.arg}`, describe, collect);
    } else {
      command.option(`--${setting.flag} ${setting.arg}`, describe);
    }
  }
  return command;
}

/** Merges config/default.json < --config file < ROOMS_* env < flags, validating each layer. */
export function resolveConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Config {
  try {
    const layers = [loadConfigFile(DEFAULT_CONFIG)];
    if (typeof flags.config === 'string') layers.push(loadConfigFile(flags.config));
    layers.push(fromEnv(env));
    layers.push(readSettings((s) => (s.flag === undefined ? undefined : flags[camel(s.flag)]), (s) => `--${s.flag}`));
    return mergeConfig(...layers);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

async function serve(flags: Record<string, unknown>, io: Io): Promise<number> {
  const config = resolveConfig(flags, io.env);
  if (config.workers === 1) return runServer(config, io, null);
  // The primary forks this same command (argv and environment) for each worker.
  if (cluster.isPrimary) return runPrimary(config, io);
  const seat = new WorkerSeat();
  try {
    return await runServer(config, io, seat);
  } finally {
    seat.leave();
  }
}

/** One server in this process: on its own (`seat` null), or as one worker of `--workers N`. */
async function runServer(config: Config, io: Io, seat: WorkerSeat | null): Promise<number> {
  const worker = seat === null ? {} : { worker: seat, logger: createLogger(config.logLevel, { worker: seat.id, pid: process.pid }) };
  const server = new RoomServer({ ...config, ...worker });
  // Listen for the signals before telling anyone where to connect, so a stop that follows the
  // banner at once is never missed.
  const stopped = stopSignal(seat !== null);
  try {
    await server.listen();
  } catch (err) {
    throw new CliError(listenFailure(err as NodeJS.ErrnoException, config), EXIT_FAILURE);
  }
  // stdout carries the JSON log lines only, so that `rooms | jq` works: the banner goes to stderr.
  // Under --workers the primary prints it, once.
  if (seat === null) io.stderr(banner(config, server.address()!.port));
  const signal = await stopped;
  server.log.info({ signal }, 'shutting down');
  await server.close();
  return 0;
}

/** The primary of `--workers N`: starts the workers, prints the banner, and drains them all at SIGINT or SIGTERM. */
async function runPrimary(config: Config, io: Io): Promise<number> {
  // No pid of its own on its lines: `worker` and `pid` there name the worker a line is about.
  const log = createLogger(config.logLevel, { role: 'primary' });
  const primary = new Primary(config.workers, log);
  const stopped = stopSignal(false);
  let port: number;
  try {
    port = await primary.start();
  } catch (err) {
    // A worker that exits with a code has said why on stderr (a port in use, say); one killed has not.
    if (err instanceof WorkerFailed) {
      if (err.code !== null && err.code !== 0) return err.code;
      throw new CliError(`${err.message}; see its log lines above`, EXIT_FAILURE);
    }
    throw err;
  }
  io.stderr(banner(config, port));
  const signal = await stopped;
  log.info({ signal }, 'shutting down');
  return primary.stop();
}

/**
 * Resolves with the first SIGINT or SIGTERM. A lone server stops listening then, so that a second
 * one kills it at once; a worker (`keep`) ignores the ones that follow, since at Ctrl-C or under
 * systemd it gets one from the terminal or the service manager and another from its primary.
 */
function stopSignal(keep: boolean): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (received: NodeJS.Signals): void => {
      if (!keep) {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      resolve(received);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Where everything is, for a person: the channel URLs, the pages, the engine and the auth mode. */
function banner(config: Config, port: number): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const http = `http://${host}:${port}`;
  const lines = config.paths.map((path) => `rooms listening on ws://${host}:${port}${path}?id=<channel>`);
  lines.push(`  chat page  ${http}/`);
  lines.push(config.apiKeys.length === 0 ? '  admin      off: no apiKeys (set apiKeys or ROOMS_API_KEYS, see docs/api.md)' : `  admin      ${http}/admin`);
  lines.push(`  engine     ${config.redis === null ? 'memory (this process only)' : `redis ${withoutCredentials(config.redis)}`}`);
  if (config.workers > 1) lines.push(`  workers    ${config.workers} processes sharing port ${port}`);
  lines.push(`  auth       ${config.authMode === 'open' ? 'open: clients pick their names' : 'token: names come from JWTs signed with jwtSecret'}`);
  return `${lines.join('\n')}\n`;
}

async function token(flags: Record<string, unknown>, io: Io): Promise<void> {
  const config = resolveConfig({ config: flags.config }, io.env);
  if (config.jwtSecret === null) throw new CliError('set jwtSecret (ROOMS_JWT_SECRET, or jwtSecret in a --config file) to sign tokens', EXIT_USAGE);
  const ttl = flags.ttl === undefined ? 300 : Number(flags.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 31_536_000) {
    throw new CliError(`--ttl must be an integer from 1 to 31536000 seconds (got ${JSON.stringify(flags.ttl)})`, EXIT_USAGE);
  }
  const user = userFlag(flags.user);
  const channels = flags.channel as string[] | undefined;
  io.stdout(`${await mintToken(config.jwtSecret, { user, ttl, ...(channels === undefined ? {} : { channels }) })}\n`);
}

function connect(url: string, flags: Record<string, unknown>, io: Io): Promise<number> {
  if (!/^wss?:\/\/./.test(url)) throw new CliError(`the URL must start with ws:// or wss:// (got ${JSON.stringify(url)})`, EXIT_USAGE);
  const token = typeof flags.token === 'string' ? flags.token : undefined;
  if ((flags.user === undefined) === (token === undefined)) throw new CliError('give --user NAME (open mode) or --token JWT (token mode)', EXIT_USAGE);
  const user = flags.user === undefined ? undefined : userFlag(flags.user);
  const options = { url, presence: flags.presence !== false, ...(user === undefined ? {} : { user }), ...(token === undefined ? {} : { token }) };
  const input = io.stdin();
  // A terminal gets a prompt; piped input makes it a script that sends, waits for replies and exits.
  const interactive = (input as { isTTY?: boolean }).isTTY === true;
  return runTerminal(options, { input, interactive, stdout: io.stdout, stderr: io.stderr });
}

/** The name --user gives, trimmed; a usage error when it is not a valid user name. */
function userFlag(value: unknown): string {
  const user = validName(value);
  if (user === null) throw new CliError(`--user must be 1 to 32 characters with no control characters (got ${JSON.stringify(value)})`, EXIT_USAGE);
  return user;
}

function listenFailure(err: NodeJS.ErrnoException, config: Config): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${config.port} on ${config.host} is in use; stop what holds it or pick another with --port`;
    case 'EACCES':
      return `no permission to listen on port ${config.port}; pick a port above 1023 with --port`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `cannot listen on host ${config.host}: no such local address; pick another with --host`;
    default:
      return `cannot listen on ${config.host}:${config.port}: ${err.message}`;
  }
}

/** Gathers a repeatable flag's values in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string };
  return pkg.version;
}

function defaultIo(): Io {
  return {
    env: process.env,
    stdin: () => process.stdin,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
}
