// The V8 sampling profiler in every page and dedicated worker of a Chromium started with
// `--remote-debugging-port=0` and a user data dir: one raw CDP connection with flat sessions
// (auto-attach, nested so a page's workers attach under it). Used by the bench's --profile
// and scripts/profile-backfill.mjs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {string} userDataDir the browser's (its DevToolsActivePort names the endpoint)
 * @param {{ startNow?: boolean }} [o] profile each target from its attachment (else from `start()`)
 */
export async function attachProfiler(userDataDir, o = {}) {
  let wsUrl = null;
  for (let i = 0; i < 100 && !wsUrl; i++) {
    try {
      const [p, path] = readFileSync(join(userDataDir, 'DevToolsActivePort'), 'utf8').trim().split('\n');
      wsUrl = `ws://127.0.0.1:${p}${path}`;
    } catch {
      await sleep(100);
    }
  }
  if (!wsUrl) throw new Error(`no DevToolsActivePort in ${userDataDir}`);
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((r) => ws.once('open', r));
  let id = 0;
  let profiling = o.startNow ?? false;
  const waiting = new Map();
  /** @type {Map<string, { type: string, url: string, started: boolean }>} */
  const sessions = new Map();
  const send = (method, params = {}, sessionId) =>
    new Promise((res, rej) => {
      const m = ++id;
      waiting.set(m, { res, rej });
      ws.send(JSON.stringify({ id: m, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  ws.on('message', async (raw) => {
    const msg = JSON.parse(raw.toString());
    if (msg.id && waiting.has(msg.id)) {
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) w.rej(new Error(msg.error.message));
      else w.res(msg.result);
      return;
    }
    if (msg.method === 'Target.attachedToTarget') {
      const { sessionId, targetInfo } = msg.params;
      const s = { type: targetInfo.type, url: targetInfo.url, started: false };
      sessions.set(sessionId, s);
      send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId).catch(() => {});
      if (s.type === 'worker' || s.type === 'page') {
        try {
          await send('Profiler.enable', {}, sessionId);
          await send('Profiler.setSamplingInterval', { interval: 1000 }, sessionId);
          if (profiling) {
            await send('Profiler.start', {}, sessionId);
            s.started = true;
          }
        } catch {
          /* the target is gone */
        }
      }
    }
  });
  await send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true });
  return {
    /** profiles every page and worker attached so far, and those that attach later */
    async start() {
      profiling = true;
      for (const [sid, s] of sessions) {
        if ((s.type === 'worker' || s.type === 'page') && !s.started) {
          await send('Profiler.start', {}, sid).catch(() => {});
          s.started = true;
        }
      }
    },
    /**
     * Stops every profile, writes each to `${outDir}/${prefix}-<type>-<n>.cpuprofile` and returns
     * the busy threads' top functions by self time (threads busy less than `minBusyUs` left out).
     * @param {{ outDir: string, prefix: string, top: number, minBusyUs: number, label?: (s: { type: string }, workerIndex: number) => string }} w
     */
    async stop(w) {
      const out = [];
      let k = 0;
      let workers = 0;
      for (const [sid, s] of sessions) {
        if (!s.started) continue;
        let prof;
        try {
          ({ profile: prof } = await send('Profiler.stop', {}, sid));
        } catch {
          continue;
        }
        k++;
        const label = w.label ? w.label(s, s.type === 'worker' ? workers++ : -1) : '';
        writeFileSync(join(w.outDir, `${w.prefix}-${s.type}-${k}.cpuprofile`), JSON.stringify(prof));
        const dt = prof.timeDeltas ?? [];
        const self = new Map();
        const byId = new Map(prof.nodes.map((n) => [n.id, n]));
        prof.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (dt[i] ?? 0)));
        const fn = new Map();
        let total = 0;
        for (const [nid, us] of self) {
          const cf = byId.get(nid).callFrame;
          const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`;
          if (cf.functionName !== '(idle)' && cf.functionName !== '(program)') total += us;
          fn.set(key, (fn.get(key) ?? 0) + us);
        }
        if (total < w.minBusyUs) continue;
        const top = [...fn].filter(([key]) => !key.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, w.top);
        out.push(`\n## ${s.type}-${k}${label} ${s.url.split('/').pop()} — busy ${(total / 1e6).toFixed(1)} s\n${top.map(([key, us]) => `${(us / 1e6).toFixed(2).padStart(7)} s  ${key}`).join('\n')}`);
      }
      return out.join('\n');
    },
    close() {
      ws.close();
    },
  };
}
