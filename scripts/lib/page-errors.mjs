// One rule for every page a test or a bench opens (issue 15): an uncaught error of the page or
// of any of its workers (the storage worker included), a console.error / console.assert of
// either, or a renderer crash fails the run — unless the test declared that error as expected
// (a test that feeds the app garbage on purpose). Used by tests/e2e/support/browser.ts (every
// e2e and WebRTC spec, through `launch`) and by the bench scripts; plain JavaScript so the
// .mjs scripts can import it without a TypeScript loader.
//
// What Chromium reports where (Playwright 1.65, checked by tests/e2e/page-errors.spec.ts):
// an exception thrown — or a promise rejected and never handled — in a dedicated worker is a
// 'pageerror' of the worker's page, like one of the page itself; a worker's console messages
// are the page's 'console' events; browser log entries (a failed load, a refused connection)
// are 'console' messages of type 'error' too.

/** console message types that are errors */
const ERROR_TYPES = new Set(['error', 'assert']);
/** the watch of each page, so a test can declare expected errors knowing only the page */
const watches = new WeakMap();
const contextWatches = new WeakMap();

/**
 * Starts recording `page`'s errors (idempotent). Classification against the expected patterns
 * happens when the errors are read, so a test may declare them after they occurred.
 */
export function watchPage(page) {
  const existing = watches.get(page);
  if (existing) return existing;
  const seen = [];
  const patterns = [];
  // `text` is what declared patterns match; `at` (the source) only helps reading a failure
  const record = (kind, text, at = '') => seen.push({ kind, text, at, url: safeUrl(page) });
  page.on('pageerror', (e) => record('uncaught', `${e.name}: ${e.message}`));
  page.on('console', (m) => {
    if (!ERROR_TYPES.has(m.type())) return;
    const loc = m.location();
    record(m.worker() ? 'worker console.error' : 'console.error', m.text(), loc.url ? ` (${loc.url}:${loc.lineNumber + 1})` : '');
  });
  page.on('crash', () => record('crash', 'the page crashed'));
  const split = () => {
    const expected = [];
    const unexpected = [];
    for (const s of seen) (patterns.some((re) => re.test(s.text)) ? expected : unexpected).push(`${s.kind}: ${s.text}${s.at} [${s.url}]`);
    return { expected, unexpected };
  };
  const watch = {
    // without g / y: RegExp#test of such a pattern is stateful (lastIndex)
    expect: (...res) => void patterns.push(...res.map((re) => new RegExp(re.source, re.flags.replace(/[gy]/g, '')))),
    unexpected: () => split().unexpected,
    expected: () => split().expected,
  };
  watches.set(page, watch);
  return watch;
}

function safeUrl(page) {
  try {
    return page.url();
  } catch {
    return 'closed page';
  }
}

/**
 * Watches every page of `context` — those open now and every one opened later (window.open
 * too) — and its service workers' console errors (a service worker belongs to no page: its
 * messages reach only the context; its uncaught exceptions reach nothing Playwright reports).
 */
export function watchContext(context) {
  const existing = contextWatches.get(context);
  if (existing) return existing;
  const pages = [];
  const add = (p) => {
    watchPage(p);
    pages.push(p);
  };
  for (const p of context.pages()) add(p);
  context.on('page', add);
  const serviceWorker = [];
  context.on('console', (m) => {
    if (m.page() === null && m.worker() && ERROR_TYPES.has(m.type())) serviceWorker.push(`service worker console.error: ${m.text()} [${m.worker().url()}]`);
  });
  const watch = { unexpected: () => [...pages.flatMap((p) => watchPage(p).unexpected()), ...serviceWorker] };
  contextWatches.set(context, watch);
  return watch;
}

/** The unexpected errors of every page and service worker of `context` so far. */
export function unexpectedContextErrors(context) {
  return watchContext(context).unexpected();
}

/** Declares errors `page` is expected to show (matched against the error's text). */
export function expectPageErrors(page, ...patterns) {
  watchPage(page).expect(...patterns);
}

/** The unexpected errors `page` has shown so far. */
export function unexpectedPageErrors(page) {
  return watchPage(page).unexpected();
}

/** Throws, listing them, if any of `watched` (pages' or contexts' watches) saw an unexpected error. */
export function assertNoPageErrors(watched, what = 'the test') {
  const all = watched.flatMap((w) => w.unexpected());
  if (all.length) throw new Error(`${all.length} unexpected page error(s) during ${what}:\n  ${all.join('\n  ')}`);
}
