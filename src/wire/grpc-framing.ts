/**
 * gRPC frames every message as [compressed flag: 1 byte][length: 4 bytes][message]. grpc-js
 * builds that frame by allocating a new buffer and copying the serialized message behind the
 * header, on the server for each response and on the client for each request: for Subscribe
 * and Produce that is every record batch copied once more, plus an allocation of the same size
 * for the garbage collector (measured: a fifth of a 1 KiB consume's wall time).
 *
 * Messages built with free room in front (by the codecs over log reads and producer batches,
 * which keep headroom: log/headroom.ts) are marked here, and grpc-js's framing is replaced by
 * one that writes the header into that room and sends the bytes as they are. Unmarked
 * messages, and compressed ones, are framed as grpc-js does. The replacement reaches into
 * grpc-js's internals (BaseServerInterceptingCall, CompressionFilter), as the HTTP/2 window
 * setting in server/node.ts does; a test fails if a grpc-js update removes either hook.
 */
import {CompressionFilter} from '@grpc/grpc-js/build/src/compression-filter.js'
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'

export const GRPC_FRAME_BYTES = 5

/** Messages whose five bytes in front are free for the frame header. */
const roomInFront = new WeakSet<Buffer>()

interface ServerCallInternals {
  handler: {serialize(value: unknown): Buffer}
}

interface ClientFilterInternals {
  currentCompressionAlgorithm: string
  maxSendMessageLength: number
}

interface WriteObject {
  message: Buffer
  flags?: number
}

let installed: boolean | undefined

/** `message`, marked as having GRPC_FRAME_BYTES free in front of it for the frame header. */
export function withFrameRoom(message: Buffer): Buffer {
  roomInFront.add(message)
  return message
}

/** Replaces grpc-js's framing of server responses and client requests, once per process; true if both hooks were found. */
export function installInPlaceFraming(): boolean {
  installed ??= installServerFraming() && installClientFraming()
  return installed
}

function installServerFraming(): boolean {
  const prototype = BaseServerInterceptingCall.prototype as unknown as Record<string, unknown>
  if (typeof prototype.serializeMessage !== 'function') return false
  prototype.serializeMessage = function serializeMessage(this: ServerCallInternals, value: unknown): Buffer {
    const message = this.handler.serialize(value)
    return roomInFront.delete(message) ? frameInPlace(message) : frameByCopy(message)
  }
  return true
}

function installClientFraming(): boolean {
  const prototype = CompressionFilter.prototype as unknown as Record<string, unknown>
  const framedByGrpcJs = prototype.sendMessage
  if (typeof framedByGrpcJs !== 'function') return false
  prototype.sendMessage = async function sendMessage(this: ClientFilterInternals, pending: Promise<WriteObject>): Promise<WriteObject> {
    const write = await pending
    const inPlace = this.currentCompressionAlgorithm === 'identity' && (this.maxSendMessageLength === -1 || write.message.length <= this.maxSendMessageLength)
    // grpc-js compresses, or refuses the message as too large, in its own words.
    if (!inPlace || !roomInFront.delete(write.message)) return framedByGrpcJs.call(this, Promise.resolve(write)) as Promise<WriteObject>
    return {message: frameInPlace(write.message), flags: write.flags}
  }
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

/** Not compressed (framing in place is only for the identity encoding), then the length big-endian. */
function writeFrameHeader(framed: Buffer, messageBytes: number): void {
  framed[0] = 0
  framed.writeUInt32BE(messageBytes, 1)
}
