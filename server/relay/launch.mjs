// @ts-check
// How the relay process is started — by `npm start`, the bench and the tests alike, so the
// memory they measure is the memory `npm start` runs.
import { fileURLToPath } from 'node:url';

export const RELAY_MAIN = fileURLToPath(new URL('./main.mjs', import.meta.url));

/**
 * `--max-semi-space-size=1` (MB): V8's young generation grows to 16 MB semi-spaces under the
 * relay's allocation rate (frames, Buffers of replies), and a Buffer's memory is freed only
 * when its wrapper is collected; small semi-spaces collect them within a few replies. Measured
 * with ten concurrent 100k catch-ups on PGlite: peak RSS ~157–164 → ~138–149 MB, same time
 * (docs/decisions/0015-relay-memory-presence.md). A heap flag must be given at start (V8 sizes
 * the heap when it creates it), hence here and not in main.mjs.
 */
export const RELAY_NODE_ARGS = ['--max-semi-space-size=1'];

/** The arguments for `spawn(process.execPath, …)`. @returns {string[]} */
export function relayArgs() {
  return [...RELAY_NODE_ARGS, RELAY_MAIN];
}

/**
 * The relay's environment: `MALLOC_ARENA_MAX=1` (unless set). glibc gives each thread that
 * allocates (V8's and libuv's helpers) its own malloc arena, and freed memory stays in them:
 * ten concurrent 100k catch-ups on PGlite peaked ~10 MB lower with one arena (115–116 →
 * 128–132 MB against 119–123 → 138–150 MB, same time). Read by glibc at the process's start.
 * @param {Record<string, string | undefined>} env @returns {Record<string, string | undefined>}
 */
export function relayEnv(env) {
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? '1' };
}
