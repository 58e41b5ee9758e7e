/**
 * y-webrtc's Room.connect() broadcasts the device's WHOLE document (sync step 2 without a state
 * vector) to every tab of the browser, besides its sync step 1. At 100k entries that is a
 * 30 MB message every tab decrypts and decodes (~1.2 s of CPU each) and the connecting tab
 * encodes and encrypts (~1.5 s) — at every page load of a large device, every resume from
 * "Pause sync" and every anti-entropy resync. The tabs still learn what the connecting device
 * has that they lack: the transport answers every tab that appears on the BroadcastChannel
 * with its own sync step 1 (src/transport/webrtc.ts, `greetNewTabs`), which the newcomer
 * answers with exactly the difference.
 *
 * If a y-webrtc upgrade changes the block the build fails: see Room.connect in
 * node_modules/y-webrtc/src/y-webrtc.js.
 */
import type { DependencyPatch } from './patch-dependency.ts';

export const YWEBRTC_CONNECT_STATE: DependencyPatch = {
  name: 'ywebrtc-connect-state',
  file: /[\\/]y-webrtc[\\/]src[\\/]y-webrtc\.js$/,
  find: /\n[ \t]*\/\/ broadcast local state\n[ \t]*const encoderState = encoding\.createEncoder\(\)\n[ \t]*encoding\.writeVarUint\(encoderState, messageSync\)\n[ \t]*syncProtocol\.writeSyncStep2\(encoderState, this\.doc\)\n[ \t]*broadcastBcMessage\(this, encoding\.toUint8Array\(encoderState\)\)\n/g,
  replace: '\n    // (tabdrive: no whole-state broadcast here; see build/ywebrtc-connect-state.ts)\n',
};
