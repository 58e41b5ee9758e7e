// @ts-check
// A Node client of the relay protocol (./protocol.mjs): requests with replies matched by id,
// fragmentation both ways, pushes as events. Tests and tools use it; the browser client speaks
// the same frames.
import WebSocket from 'ws';
import { OP, ProtocolError, Reassembler, decodeFrame, encodeFrame, fragment } from './protocol.mjs';

export class RelayError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/**
 * @typedef {{ meta: Record<string, unknown>, payload: Uint8Array }} Reply
 * @typedef {{ op: number, meta: Record<string, unknown>, payload: Uint8Array }} Push
 */

export class RelayClient {
  /** @param {string} url */
  static async connect(url) {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RelayClient(ws);
  }

  /** @param {WebSocket} ws */
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (r: Reply) => void, reject: (e: Error) => void }>} */
    this.pending = new Map();
    /** @type {((p: Push) => void)[]} */
    this.listeners = [];
    /** @type {{ code: number, reason: string } | null} */
    this.closed = null;
    /** errors the relay sent without a request id (malformed frames, rate limits) */
    /** @type {{ code: string, message: string }[]} */
    this.errors = [];
    this.reasm = new Reassembler();
    ws.on('message', (data) => this.onFrame(/** @type {Buffer} */ (data)));
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const p of this.pending.values()) p.reject(new RelayError('closed', `connection closed (${code} ${reason.toString()})`));
      this.pending.clear();
    });
  }

  /** @param {Buffer} data */
  onFrame(data) {
    let f = decodeFrame(data);
    if (f.op === OP.FRAG) {
      const whole = this.reasm.push(f);
      if (!whole) return;
      f = decodeFrame(whole);
    }
    if (f.op === OP.EV_UPDATE || f.op === OP.EV_PAGE || f.op === OP.EV_PRESENCE) {
      for (const l of this.listeners) l({ op: f.op, meta: f.meta, payload: f.payload });
      return;
    }
    const p = this.pending.get(f.id);
    if (f.op === OP.ERROR && !p) {
      this.errors.push({ code: String(f.meta.code), message: String(f.meta.message) });
      return;
    }
    if (!p) return;
    this.pending.delete(f.id);
    if (f.op === OP.OK) p.resolve({ meta: f.meta, payload: f.payload });
    else p.reject(new RelayError(String(f.meta.code), String(f.meta.message)));
  }

  /** @param {(p: Push) => void} fn */
  onPush(fn) {
    this.listeners.push(fn);
  }

  /**
   * @param {number} op @param {Record<string, unknown>} meta @param {Uint8Array} [payload]
   * @returns {Promise<Reply>}
   */
  request(op, meta, payload) {
    if (this.closed) return Promise.reject(new RelayError('closed', 'connection closed'));
    const id = this.nextId++;
    const frames = fragment(encodeFrame(op, id, meta, payload), id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      for (const f of frames) this.ws.send(f);
    });
  }

  /** @param {Uint8Array} bytes */
  sendRaw(bytes) {
    this.ws.send(bytes);
  }

  /** @param {string} h @param {string} t */
  async auth(h, t) {
    return (await this.request(OP.AUTH, { h, t })).meta;
  }

  /** @param {string} h @param {string} id @param {Uint8Array} data @returns {Promise<{ seq: number, dup: boolean }>} */
  async append(h, id, data) {
    const r = await this.request(OP.APPEND, { h, id }, data);
    return { seq: Number(r.meta.seq), dup: r.meta.dup === true };
  }

  /** One page of updates after `after`. @param {string} h @param {number} after @param {number} [limit] */
  async read(h, after, limit) {
    const r = await this.request(OP.READ, { h, after, ...(limit ? { limit } : {}) });
    const items = /** @type {[number, number][]} */ (r.meta.items);
    /** @type {{ seq: number, data: Uint8Array }[]} */
    const out = [];
    let o = 0;
    for (const [seq, len] of items) {
      out.push({ seq, data: r.payload.subarray(o, o + len) });
      o += len;
    }
    if (o !== r.payload.length) throw new ProtocolError('bad_reply', 'read reply lengths do not add up');
    return { items: out, last: Number(r.meta.last), compacted: Number(r.meta.compacted), more: r.meta.more === true, snapshot: r.meta.snapshot };
  }

  /** Every update after `after`, page by page. @param {string} h @param {number} after */
  async readAll(h, after = 0) {
    /** @type {{ seq: number, data: Uint8Array }[]} */
    const all = [];
    let cursor = after;
    for (;;) {
      const r = await this.read(h, cursor);
      all.push(...r.items);
      if (r.items.length) cursor = /** @type {{ seq: number }} */ (r.items[r.items.length - 1]).seq;
      if (!r.more || !r.items.length) return all;
    }
  }

  /** @param {string} h @param {string} o @param {number} from @param {number} to @param {Uint8Array} data */
  async putPage(h, o, from, to, data) {
    return (await this.request(OP.PAGE_PUT, { h, o, from, to }, data)).meta;
  }

  /** @param {string} h @param {string} o @param {number} after */
  async getPages(h, o, after) {
    const r = await this.request(OP.PAGE_GET, { h, o, after });
    const items = /** @type {[number, number, number][]} */ (r.meta.items);
    let off = 0;
    return {
      items: items.map(([from, to, len]) => {
        const data = r.payload.subarray(off, off + len);
        off += len;
        return { from, to, data };
      }),
      more: r.meta.more === true,
    };
  }

  /** An opaque presence message for the handle's other subscribers. @param {string} h @param {Uint8Array} data */
  async presence(h, data) {
    return (await this.request(OP.PRESENCE, { h }, data)).meta;
  }

  /** @param {string} h */
  async subscribe(h) {
    return (await this.request(OP.SUBSCRIBE, { h })).meta;
  }

  close() {
    this.ws.close();
  }
}
