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
 * messages, and compressed ones, are framed as grpc-js does.
 *
 * Received messages are gathered by grpc-js from HTTP/2 chunks into a new buffer each; here
 * large ones are gathered into buffers borrowed from the read pool instead, which a reader
 * that knows it holds the last view of one (the CLI's printer) gives back with recycleBuffer.
 *
 * The replacements reach into grpc-js's internals (BaseServerInterceptingCall,
 * CompressionFilter, StreamDecoder), as the HTTP/2 window setting in server/node.ts does; a
 * test fails if a grpc-js update removes a hook.
 */
import {CompressionFilter} from '@grpc/grpc-js/build/src/compression-filter.js'
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'
import {StreamDecoder} from '@grpc/grpc-js/build/src/stream-decoder.js'
import {borrowBuffer, claimHeadroom} from '../log/headroom.js'

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

/**
 * A message of `prefixBytes` (for the caller to fill) followed by `data`. When `data` has room
 * in front (log/headroom.ts) the message is built there, data not copied, and marked for
 * framing in place; otherwise `data` is copied once behind a fresh prefix.
 */
export function messageEndingWith(data: Buffer, prefixBytes: number): Buffer {
  const framed = claimHeadroom(data, GRPC_FRAME_BYTES + prefixBytes)
  if (!framed) {
    const message = Buffer.allocUnsafe(prefixBytes + data.length)
    data.copy(message, prefixBytes)
    return message
  }
  const message = framed.subarray(GRPC_FRAME_BYTES)
  roomInFront.add(message)
  return message
}

/** Replaces grpc-js's framing of server responses and client requests and its gathering of received messages, once per process; true if every hook was found. */
export function installGrpcFraming(): boolean {
  installed ??= installServerFraming() && installClientFraming() && installPooledDeframing()
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

/** A received message being gathered: its frame (header included) and how much of it has come. */
interface Gathering {
  header: Buffer
  headerFilled: number
  framed: Buffer | undefined
  framedFilled: number
}

const gatherings = new WeakMap<object, Gathering>()

function installPooledDeframing(): boolean {
  const prototype = StreamDecoder.prototype as unknown as Record<string, unknown>
  if (typeof prototype.write !== 'function') return false
  prototype.write = function write(this: {maxReadMessageLength: number}, data: Buffer): Buffer[] {
    let gathering = gatherings.get(this)
    if (!gathering) gatherings.set(this, (gathering = {header: Buffer.alloc(GRPC_FRAME_BYTES), headerFilled: 0, framed: undefined, framedFilled: 0}))
    return gatherMessages(gathering, data, this.maxReadMessageLength)
  }
  return true
}

/** The frames (header included, as grpc-js hands them on) that `data` completes. */
function gatherMessages(gathering: Gathering, data: Buffer, messageBytesMax: number): Buffer[] {
  const complete: Buffer[] = []
  let position = 0
  while (position < data.length) {
    if (!gathering.framed) {
      const headerBytes = Math.min(GRPC_FRAME_BYTES - gathering.headerFilled, data.length - position)
      data.copy(gathering.header, gathering.headerFilled, position, position + headerBytes)
      gathering.headerFilled += headerBytes
      position += headerBytes
      if (gathering.headerFilled < GRPC_FRAME_BYTES) break
      const messageBytes = gathering.header.readUInt32BE(1)
      // grpc-js's own words: its callers turn them into RESOURCE_EXHAUSTED.
      if (messageBytesMax !== -1 && messageBytes > messageBytesMax) throw new Error(`Received message larger than max (${messageBytes} vs ${messageBytesMax})`)
      gathering.framed = borrowBuffer(GRPC_FRAME_BYTES + messageBytes)
      gathering.header.copy(gathering.framed, 0)
      gathering.framedFilled = GRPC_FRAME_BYTES
      gathering.headerFilled = 0
    }
    const bytes = Math.min(gathering.framed.length - gathering.framedFilled, data.length - position)
    data.copy(gathering.framed, gathering.framedFilled, position, position + bytes)
    gathering.framedFilled += bytes
    position += bytes
    if (gathering.framedFilled === gathering.framed.length) {
      complete.push(gathering.framed)
      gathering.framed = undefined
    }
  }
  return complete
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
