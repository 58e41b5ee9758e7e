import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../../build/patch-dependency.ts';
import { YWEBRTC_CONNECT_STATE } from '../../../build/ywebrtc-connect-state.ts';

// the ES module source the app bundles (package.json "module"), not the CommonJS build
const source = readFileSync(fileURLToPath(import.meta.resolve('y-webrtc')), 'utf8');

describe("y-webrtc connect without the whole-state broadcast (build patch)", () => {
  it('removes exactly the whole-state sync step 2 from Room.connect and keeps sync step 1', () => {
    const patched = applyPatch(YWEBRTC_CONNECT_STATE, source);
    expect(patched).not.toContain('writeSyncStep2(encoderState, this.doc)');
    expect(patched).toContain('syncProtocol.writeSyncStep1(encoderSync, this.doc)');
    expect(source.split('writeSyncStep2').length - patched.split('writeSyncStep2').length).toBe(1);
  });

  it('fails loudly when the block is missing (a y-webrtc upgrade changed it)', () => {
    expect(() => applyPatch(YWEBRTC_CONNECT_STATE, 'class Room { connect () {} }')).toThrow(/found it 0 times/);
  });
});
