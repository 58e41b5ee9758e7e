// Real servers for the relay suites, on loopback, in temporary folders, stopped afterwards:
// a PostgreSQL cluster (Debian's `postgresql`; initdb refuses root, so as root it runs as the
// `postgres` user), a Redis server (`redis-server`), and relay processes (server/relay/main.mjs).
// `.ci/run` installs both packages; where the binaries are absent the suites that need them
// skip, saying so.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relayArgs, relayEnv } from '../../../server/relay/launch.mjs';


export function pgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

export function redisBinary(): string | null {
  return existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
}

/** Why the real-server suites cannot run here, or null. */
export function missingServers(): string | null {
  const missing = [pgBinDir() ? null : 'postgresql', redisBinary() ? null : 'redis-server'].filter(Boolean);
  return missing.length ? `skipped: ${missing.join(' and ')} not installed (apt-get install postgresql redis-server; .ci/run does)` : null;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(p));
    });
  });
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL tool, as `postgres` when we are root. */
function pgRun(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const cmd = isRoot ? 'runuser' : bin;
  const full = isRoot ? ['-u', 'postgres', '--', bin, ...args] : args;
  // a dump of the cluster suite's store is megabytes (spawnSync's default 1 MiB would kill it)
  const r = spawnSync(cmd, full, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error?.message}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export interface Postgres {
  url: string;
  port: number;
  dir: string;
  /** pg_dump of the test database, as plain SQL text (bytea as hex) */
  dump(): string;
  /** stop the server (fast shutdown), keeping its data … */
  pause(): void;
  /** … and start it again on the same port */
  resume(): void;
  stop(): void;
}

export async function startPostgres(): Promise<Postgres> {
  const bin = pgBinDir();
  if (!bin) throw new Error('postgresql is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tabdrive-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  pgRun(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // fsync off: the tests kill relays, never this server, and the disk is shared
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = (): void => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  start();
  pgRun(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'relay']);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/relay`,
    port,
    dir,
    dump: () => pgRun(join(bin, 'pg_dump'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'relay']),
    pause: () => void pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
    resume: start,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        pgRun(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface Redis {
  url: string;
  port: number;
  /** kill -9, as a crash would */
  kill(): Promise<void>;
  /** start again on the same port (empty: no persistence) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<Redis> {
  const bin = redisBinary();
  if (!bin) throw new Error('redis-server is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tabdrive-redis-'));
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    const p = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    await new Promise<void>((res, rej) => {
      let out = '';
      const t = setTimeout(() => rej(new Error(`redis did not start: ${out}`)), 15_000);
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(t);
          res();
        }
      });
      p.once('exit', (code) => rej(new Error(`redis exited (${code}): ${out}`)));
    });
  };
  const kill = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RelayProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  health(): Promise<Record<string, number>>;
  /** kill -9 */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** A relay as its own process (server/relay/main.mjs) on a free loopback port. */
export async function startRelayProcess(env: Record<string, string>): Promise<RelayProcess> {
  const proc = spawn(process.execPath, relayArgs(), {
    env: relayEnv({ ...process.env, RELAY_HOST: '127.0.0.1', RELAY_PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`relay did not start in 30 s: ${out}`)), 30_000);
    const check = (): void => {
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`relay exited (${code}): ${out}`));
    });
  });
  const kill = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    proc,
    output: () => out,
    health: async () => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, number>,
    kill,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** Polls `cond` every 20 ms until it holds or `ms` pass. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}
