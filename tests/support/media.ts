/**
 * Real media files made at test time: EXIF (APP1) spliced into a JPEG, a one-page PDF with
 * text, a WAV tone. Byte layouts follow the specs (TIFF 6.0 / EXIF 2.3, PDF 1.4, RIFF WAVE)
 * so the app's parsers and the browser's decoders read them as they would a camera's files.
 */

export interface ExifTags {
  readonly make?: string;
  readonly model?: string;
  /** "YYYY:MM:DD HH:MM:SS" */
  readonly taken?: string;
  readonly orientation?: number;
  readonly pixelWidth?: number;
  readonly pixelHeight?: number;
}

type Entry = { tag: number; type: 2 | 3 | 4; value: string | number };

/** A little-endian TIFF block: IFD0 (Make, Model, Orientation, Exif pointer) and the Exif IFD. */
export function tiffBlock(t: ExifTags): Buffer {
  const ifd0: Entry[] = [];
  if (t.make !== undefined) ifd0.push({ tag: 0x010f, type: 2, value: t.make });
  if (t.model !== undefined) ifd0.push({ tag: 0x0110, type: 2, value: t.model });
  if (t.orientation !== undefined) ifd0.push({ tag: 0x0112, type: 3, value: t.orientation });
  const exif: Entry[] = [];
  if (t.taken !== undefined) exif.push({ tag: 0x9003, type: 2, value: t.taken });
  if (t.pixelWidth !== undefined) exif.push({ tag: 0xa002, type: 4, value: t.pixelWidth });
  if (t.pixelHeight !== undefined) exif.push({ tag: 0xa003, type: 4, value: t.pixelHeight });
  ifd0.push({ tag: 0x8769, type: 4, value: 0 }); // patched below
  const ifdSize = (n: number) => 2 + n * 12 + 4;
  const ifd0At = 8;
  const exifAt = ifd0At + ifdSize(ifd0.length);
  let dataAt = exifAt + ifdSize(exif.length);
  const out = Buffer.alloc(4096);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifd0At, 4);
  const writeIfd = (at: number, entries: Entry[]) => {
    entries.sort((a, b) => a.tag - b.tag);
    out.writeUInt16LE(entries.length, at);
    entries.forEach((e, i) => {
      const p = at + 2 + i * 12;
      out.writeUInt16LE(e.tag, p);
      out.writeUInt16LE(e.type, p + 2);
      if (e.type === 2) {
        const s = Buffer.from(`${String(e.value)}\0`, 'latin1');
        out.writeUInt32LE(s.length, p + 4);
        if (s.length <= 4) s.copy(out, p + 8);
        else {
          out.writeUInt32LE(dataAt, p + 8);
          s.copy(out, dataAt);
          dataAt += s.length + (s.length % 2);
        }
      } else {
        out.writeUInt32LE(1, p + 4);
        if (e.type === 3) out.writeUInt16LE(Number(e.value), p + 8);
        else out.writeUInt32LE(e.tag === 0x8769 ? exifAt : Number(e.value), p + 8);
      }
    });
    out.writeUInt32LE(0, at + 2 + entries.length * 12);
  };
  writeIfd(ifd0At, ifd0);
  writeIfd(exifAt, exif);
  return out.subarray(0, dataAt);
}

/** The JPEG with an EXIF APP1 segment right after SOI (where cameras put it). */
export function withExif(jpeg: Buffer, t: ExifTags): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiffBlock(t)]);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xffe1, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
}

/** A JPEG header only (SOI, APP1 EXIF, SOF0 with the size): enough for header parsers, not a decoder. */
export function jpegHeader(width: number, height: number, t: ExifTags = {}): Buffer {
  const sof = Buffer.from([0xff, 0xc0, 0, 11, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]);
  return withExif(Buffer.concat([Buffer.from([0xff, 0xd8]), sof, Buffer.from([0xff, 0xd9])]), t);
}

/** A one-page PDF 1.4 showing `text` in Helvetica (a standard font: nothing embedded). */
export function pdfWithText(text: string, pages = 1): Buffer {
  const objs: string[] = [];
  const kids = Array.from({ length: pages }, (_, i) => `${4 + i * 2} 0 R`).join(' ');
  objs.push('<< /Type /Catalog /Pages 2 0 R >>');
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`);
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  for (let i = 0; i < pages; i++) {
    const stream = `BT /F1 24 Tf 72 720 Td (${text.replace(/[()\\]/g, '\\$&')} ${i + 1}) Tj ET`;
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + i * 2} 0 R >>`);
    objs.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  }
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) body += `${String(o).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/** A mono 16-bit PCM WAV of a sine tone. */
export function wavTone(seconds: number, hz = 440, rate = 8000): Buffer {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 12000), 44 + i * 2);
  return b;
}
