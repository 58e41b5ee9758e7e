// The certificate `npm start -- --lan` serves with: self-signed, made on first start and kept,
// so the fingerprint a user compared once stays the same. Made with Node's own crypto (an
// ECDSA P-256 key and a minimal DER encoder for the X.509 structure): no OpenSSL binary and
// no dependency, so it works wherever Node does.
//
// The key is kept for good; the certificate is issued again (same key, so the SPKI hash stays)
// only when it no longer names every address the machine is served on, or nears its end.
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** Apple's platforms refuse a TLS server certificate valid for longer, even a trusted one. */
export const VALIDITY_DAYS = 825;
/** issue again this long before the end */
const RENEW_DAYS = 30;
const DAY_MS = 86_400_000;

// ---- DER -------------------------------------------------------------------------------

/** @param {number} n */
function length(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
/** @param {number} tag @param {Buffer[]} parts */
function tlv(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}
const seq = (/** @type {Buffer[]} */ ...parts) => tlv(0x30, ...parts);
/** @param {string} dotted */
function oid(dotted) {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
/** a non-negative INTEGER from big-endian bytes */
function integer(/** @type {Buffer} */ bytes) {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1] ?? 0) < 0x80) b = b.subarray(1);
  return tlv(0x02, (b[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
/** @param {Date} d UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5) */
function time(d) {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}
/** @param {string} cn */
const name = (cn) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
/** @param {string} id @param {boolean} critical @param {Buffer} value */
const extension = (id, critical, value) => seq(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value));

/** @param {string} ip */
function ipBytes(ip) {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const groups = (/** @type {string} */ s) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = ip.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/**
 * A self-signed certificate for `names` (host names and IP addresses), PEM.
 * @param {import('node:crypto').KeyObject} privateKey an EC P-256 key
 * @param {readonly string[]} names
 * @param {Date} [now]
 */
export function issueCertificate(privateKey, names, now = new Date()) {
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const notBefore = new Date(now.getTime() - DAY_MS); // a neighbour's clock a little behind
  const notAfter = new Date(now.getTime() + VALIDITY_DAYS * DAY_MS);
  const san = seq(...names.map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_SHA256,
    name('tabdrive'),
    seq(time(notBefore), time(notAfter)),
    name('tabdrive'),
    spki,
    tlv(
      0xa3,
      seq(
        extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
        extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x07, 0x80]))), // keyUsage: digitalSignature
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.17', false, san),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

/**
 * Does `cert` name every one of `names` and stay valid for a while yet?
 * @param {X509Certificate} cert @param {readonly string[]} names @param {Date} now
 */
export function covers(cert, names, now = new Date()) {
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_DAYS * DAY_MS) return false;
  return names.every((n) => (isIP(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n, { wildcards: false }) !== undefined));
}

/**
 * The certificate in `dir` (cert.pem, key.pem), made or issued again as needed.
 * @param {string} dir
 * @param {readonly string[]} names
 * @returns {{ certPath: string, keyPath: string, fingerprint: string, spki: string, made: 'new' | 'reissued' | 'kept' }}
 *   fingerprint: SHA-256 of the certificate as browsers show it (AA:BB:…); spki: base64 SHA-256
 *   of the public key (Chromium's --ignore-certificate-errors-spki-list)
 */
export function ensureCertificate(dir, names) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  /** @type {'new' | 'reissued' | 'kept'} */
  let made = 'kept';
  let key;
  if (existsSync(keyPath)) key = createPrivateKey(readFileSync(keyPath));
  else {
    key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(keyPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    made = 'new';
  }
  let cert = null;
  if (made === 'kept' && existsSync(certPath)) {
    try {
      const c = new X509Certificate(readFileSync(certPath));
      // a certificate of another key (key.pem replaced by hand) is of no use
      if (c.checkPrivateKey(key) && covers(c, names)) cert = c;
    } catch {
      cert = null; // unreadable: issue again
    }
  }
  if (!cert) {
    if (made === 'kept') made = 'reissued';
    writeFileSync(certPath, issueCertificate(key, names));
    cert = new X509Certificate(readFileSync(certPath));
  }
  const spki = createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64');
  return { certPath, keyPath, fingerprint: cert.fingerprint256, spki, made };
}
