/**
 * The first pages of a PDF drawn to canvases with pdf.js. pdf.js (≈ 400 KB) is loaded on the
 * first PDF only; its worker is a file of this origin (Vite emits it as an asset), which the
 * CSP's `worker-src 'self'` allows. `isEvalSupported: false`: pdf.js would otherwise compile
 * font outlines with `new Function`, which the CSP (no 'unsafe-eval') refuses.
 */
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';

export interface PdfRender {
  readonly pages: number;
  readonly shown: number;
}

export async function renderPdf(data: Uint8Array, into: HTMLElement, maxPages: number, width: number, signal: AbortSignal): Promise<PdfRender> {
  const pdfjs = await import('pdfjs-dist');
  pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;
  // pdf.js transfers its input to the worker: a copy keeps the caller's bytes usable
  const task = pdfjs.getDocument({ data: data.slice(), isEvalSupported: false });
  const doc = await task.promise;
  try {
    const shown = Math.min(maxPages, doc.numPages);
    for (let i = 1; i <= shown && !signal.aborted; i++) {
      const page = await doc.getPage(i);
      const base = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: Math.min(3, width / base.width) * (globalThis.devicePixelRatio || 1) });
      const canvas = document.createElement('canvas');
      canvas.width = Math.ceil(viewport.width);
      canvas.height = Math.ceil(viewport.height);
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `Page ${i} of ${doc.numPages}`);
      into.append(canvas);
      await page.render({ canvas, viewport }).promise;
    }
    return { pages: doc.numPages, shown };
  } finally {
    await task.destroy();
  }
}
