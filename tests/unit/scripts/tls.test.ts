// The LAN certificate (scripts/lib/tls.mjs): a valid self-signed X.509 certificate for the
// given names, made once and kept; issued again with the same key only when the names change.
import { afterEach, describe, expect, it } from 'vitest';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { covers, ensureCertificate, issueCertificate, VALIDITY_DAYS } from '../../../scripts/lib/tls.mjs';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'tabdrive-tls-'));
  dirs.push(d);
  return join(d, 'tls');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('issueCertificate', () => {
  it('makes a self-signed certificate that names hosts and IPv4/IPv6 addresses', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const now = new Date('2030-01-15T12:00:00Z');
    const cert = new X509Certificate(issueCertificate(key, ['localhost', 'laptop.local', '192.168.1.20', 'fd00::1:2', '::1'], now));
    expect(cert.verify(createPublicKey(key))).toBe(true);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(cert.subject).toBe('CN=tabdrive');
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:laptop.local, IP Address:192.168.1.20, IP Address:FD00:0:0:0:0:0:1:2, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.checkIP('192.168.1.20')).toBe('192.168.1.20');
    expect(cert.checkIP('fd00::1:2')).toBeDefined();
    expect(cert.checkIP('192.168.1.21')).toBeUndefined();
    expect(cert.checkHost('laptop.local')).toBe('laptop.local');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const days = (new Date(cert.validTo).getTime() - now.getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(VALIDITY_DAYS);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(now.getTime());
  });
  it('writes GeneralizedTime past 2049', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const cert = new X509Certificate(issueCertificate(key, ['localhost'], new Date('2049-12-01T00:00:00Z')));
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2052);
    expect(covers(cert, ['localhost'], new Date('2050-06-01T00:00:00Z'))).toBe(true);
    expect(covers(cert, ['localhost'], new Date(new Date(cert.validTo).getTime() - 86_400_000))).toBe(false); // near its end
  });
});

describe('ensureCertificate', () => {
  it('makes the key and certificate on first start, then keeps them', () => {
    const dir = tmp();
    const first = ensureCertificate(dir, ['localhost', '10.0.0.5']);
    expect(first.made).toBe('new');
    expect(statSync(first.keyPath).mode & 0o077).toBe(0); // the key is the owner's alone
    const der = new X509Certificate(readFileSync(first.certPath)).raw;
    expect(first.fingerprint).toBe(createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':'));
    const spkiDer = createPublicKey(createPrivateKey(readFileSync(first.keyPath))).export({ type: 'spki', format: 'der' });
    expect(first.spki).toBe(createHash('sha256').update(spkiDer).digest('base64'));
    const again = ensureCertificate(dir, ['10.0.0.5']);
    expect(again).toEqual({ ...first, made: 'kept' });
  });
  it('issues again with the same key when an address is new', () => {
    const dir = tmp();
    const first = ensureCertificate(dir, ['localhost', '10.0.0.5']);
    const moved = ensureCertificate(dir, ['localhost', '10.0.0.6']);
    expect(moved.made).toBe('reissued');
    expect(moved.spki).toBe(first.spki);
    expect(moved.fingerprint).not.toBe(first.fingerprint);
    expect(new X509Certificate(readFileSync(moved.certPath)).checkIP('10.0.0.6')).toBe('10.0.0.6');
  });
  it('an unreadable certificate is issued again; the key stays', () => {
    const dir = tmp();
    const first = ensureCertificate(dir, ['localhost']);
    writeFileSync(first.certPath, 'not a certificate');
    const r = ensureCertificate(dir, ['localhost']);
    expect(r.made).toBe('reissued');
    expect(r.spki).toBe(first.spki);
  });
});
