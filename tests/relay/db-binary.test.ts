// The binary row path of the PGlite engine (server/relay/db.mjs): the engine writes its reply
// in chunks of any size, a message may span them, and an ErrorResponse must surface with its
// SQLSTATE (the store tells a duplicate by 23505).
import { describe, expect, it } from 'vitest';
import { extendedQuery, rowParser } from '../../server/relay/db.mjs';

function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function dataRow(fields: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, fields.length])];
  for (const f of fields) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(f ? f.length : -1);
    parts.push(len, ...(f ? [f] : []));
  }
  return msg('D', Buffer.concat(parts));
}

const int8 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};

describe('PGlite binary rows', () => {
  const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
  const reply = Buffer.concat([
    msg('1', Buffer.alloc(0)),
    msg('2', Buffer.alloc(0)),
    dataRow([int8(7), payload]),
    dataRow([int8(2 ** 40), null]),
    msg('C', Buffer.from('SELECT 2\0')),
    msg('Z', Buffer.from('I')),
  ]);

  for (const size of [1, 5, 7, 100, 4096, reply.length]) {
    it(`reads every row whatever the chunk size (${size} B)`, () => {
      const p = rowParser([
        ['seq', 'int'],
        ['data', 'bytes'],
      ]);
      const scratch = Buffer.alloc(size);
      for (let o = 0; o < reply.length; o += size) {
        // the engine reuses its output memory: the parser must not keep a view of it
        const n = reply.copy(scratch, 0, o, o + size);
        p.push(scratch.subarray(0, n));
        scratch.fill(0xee);
      }
      const rows = p.end();
      expect(rows).toHaveLength(2);
      expect(rows[0]!.seq).toBe(7);
      expect(Buffer.compare(rows[0]!.data as Buffer, payload)).toBe(0);
      expect(rows[1]).toEqual({ seq: 2 ** 40, data: null });
    });
  }

  it('an ErrorResponse is thrown with its SQLSTATE; a cut reply is an error', () => {
    const p = rowParser([['seq', 'int']]);
    p.push(msg('E', Buffer.from('SERROR\0C23505\0Mduplicate key\0\0')));
    p.push(msg('Z', Buffer.from('I')));
    expect(() => p.end()).toThrow(expect.objectContaining({ code: '23505', message: 'duplicate key' }));
    const q = rowParser([['seq', 'int']]);
    q.push(dataRow([int8(1)]).subarray(0, 9));
    expect(() => q.end()).toThrow(/inside a message/);
  });

  it('binds bytes in binary and the rest as text, and asks for binary results', () => {
    const m = extendedQuery('SELECT $1, $2', [Buffer.from([1, 2, 3]), 42]);
    expect(String.fromCharCode(m[0]!)).toBe('P');
    const at = 1 + m.readInt32BE(1);
    expect(String.fromCharCode(m[at]!)).toBe('B');
    const bind = m.subarray(at, at + 1 + m.readInt32BE(at + 1));
    // portal, statement, 2 formats (binary, text), 2 values, 1 result format: binary
    expect([...bind.subarray(5, 13)]).toEqual([0, 0, 0, 2, 0, 1, 0, 0]);
    expect(bind.subarray(-4).readInt16BE(2)).toBe(1);
    expect(m.subarray(-5).toString('latin1', 0, 1)).toBe('S');
  });
});
