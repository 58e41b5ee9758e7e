// Two sync documents by hand: a receiver that records what each remote transaction yields
// (the engine's extractor), and a one-way relay of what the other document lacks.
import * as Y from 'yjs';
import { createExtractor, LOCAL_ORIGIN } from '../../src/sync/doc.ts';

/** A receiving doc that records what each remote transaction yields. */
export function receiver() {
  const doc = new Y.Doc();
  const ex = createExtractor(doc);
  const got: ReturnType<typeof ex.fromTransaction>[] = [];
  doc.on('afterTransaction', (tr: Y.Transaction) => {
    if (tr.origin !== LOCAL_ORIGIN) got.push(ex.fromTransaction(tr));
  });
  return { doc, got };
}

/** Applies to `to` what `from` has and `to` lacks, as one remote update. */
export const relay = (from: Y.Doc, to: Y.Doc): void => {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)), 'remote');
};
