/**
 * Keeps rtc-node's native library from sending its debug logs through JavaScript.
 *
 * rtc-node 0.13 initialises its Rust library with log capture on, and that library then forwards
 * every log record at every level (libwebrtc's ICE debug lines, the WebSocket's traces) across
 * the FFI as protobuf events, which rtc-node decodes on the main thread only to drop them below
 * its own level. Measured here, one process with 10 connected rooms: ~220 records a second, and
 * the process's main thread at 54 ms/s with the track unpublished, 2 ms/s without the capture
 * (docs/ARCHITECTURE.md, "Hosting"). Initialising the library again with capture off leaves
 * those records to Rust's own logger (`RUST_LOG`, errors only by default, on stderr); rtc-node's
 * events reach the same client as before.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FfiEvent, livekitInitialize } from '@livekit/rtc-ffi-bindings';

interface FfiClientLike {
  emit(event: 'ffi_event', value: FfiEvent): boolean;
}

let quiet = false;

/** rtc-node's own version, which it gives the native library (and LiveKit) as the SDK's. */
function rtcNodeVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@livekit/rtc-node');
  return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Call once rtc-node has made its FFI client (after the first Room connected); then a no-op. */
export function stopNativeLogCapture(): boolean {
  if (quiet) return true;
  const client = (globalThis as { _ffiClientInstance?: FfiClientLike })._ffiClientInstance;
  if (!client) return false;
  livekitInitialize((data: Uint8Array) => client.emit('ffi_event', FfiEvent.fromBinary(data)), false, rtcNodeVersion());
  quiet = true;
  return true;
}
