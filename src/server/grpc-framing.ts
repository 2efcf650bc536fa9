/**
 * gRPC frames every message as [compressed flag: 1 byte][length: 4 bytes][message]. grpc-js
 * builds that frame for each response by allocating a new buffer and copying the serialized
 * message behind the header: for Subscribe and Fetch that is every record batch sent, copied
 * once more, plus an allocation of the same size for the garbage collector (measured: a fifth
 * of a 1 KiB consume's wall time).
 *
 * Responses built with free room in front (fetch-response-codec.ts, over log reads that keep
 * headroom) are marked here, and grpc-js's framing is replaced by one that writes the header
 * into that room and sends the bytes as they are. Unmarked messages are framed as grpc-js
 * does. The replacement reaches into grpc-js's internals (BaseServerInterceptingCall), as the
 * HTTP/2 window setting in node.ts does; a test fails if a grpc-js update removes the hook.
 */
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'

export const GRPC_FRAME_BYTES = 5

/** Messages whose five bytes in front are free for the frame header. */
const roomInFront = new WeakSet<Buffer>()

interface FramingCall {
  handler: {serialize(value: unknown): Buffer}
}

let installed = false

/** `message`, marked as having GRPC_FRAME_BYTES free in front of it for the frame header. */
export function withFrameRoom(message: Buffer): Buffer {
  roomInFront.add(message)
  return message
}

/** Replaces grpc-js's response framing once per process; true if the hook was found. */
export function installInPlaceFraming(): boolean {
  if (installed) return true
  const prototype = BaseServerInterceptingCall.prototype as unknown as Record<string, unknown>
  if (typeof prototype.serializeMessage !== 'function') return false
  prototype.serializeMessage = function serializeMessage(this: FramingCall, value: unknown): Buffer {
    const message = this.handler.serialize(value)
    return roomInFront.delete(message) ? frameInPlace(message) : frameByCopy(message)
  }
  installed = true
  return true
}

function frameInPlace(message: Buffer): Buffer {
  const framed = Buffer.from(message.buffer, message.byteOffset - GRPC_FRAME_BYTES, message.length + GRPC_FRAME_BYTES)
  writeFrameHeader(framed, message.length)
  return framed
}

function frameByCopy(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(message.length + GRPC_FRAME_BYTES)
  writeFrameHeader(framed, message.length)
  message.copy(framed, GRPC_FRAME_BYTES)
  return framed
}

/** Uncompressed (grpc-js does not compress responses either), then the length big-endian. */
function writeFrameHeader(framed: Buffer, messageBytes: number): void {
  framed[0] = 0
  framed.writeUInt32BE(messageBytes, 1)
}
