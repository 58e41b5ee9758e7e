// A relay process (server/relay/main.mjs) on PGlite in a folder the test chose, for specs
// that need the always-on relay between separate browser profiles.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { relayArgs, relayEnv } from '../../../server/relay/launch.mjs';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface RelayProc {
  readonly url: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startRelay(port: number, dataDir: string): Promise<RelayProc> {
  const child: ChildProcess = spawn(process.execPath, relayArgs(), {
    cwd: ROOT,
    env: relayEnv({ ...process.env, RELAY_PORT: String(port), RELAY_HOST: '127.0.0.1', RELAY_DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`relay did not start in 60 s:\n${log}`)), 60_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('listening on')) {
        clearTimeout(t);
        res();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`relay exited (${code}) before listening:\n${log}`));
    });
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once('exit', () => res());
        child.kill(signal);
      }),
  };
}

