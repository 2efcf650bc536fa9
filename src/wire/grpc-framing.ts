/**
 * gRPC frames every message as [compressed flag: 1 byte][length: 4 bytes][message]. grpc-js
 * builds that frame by allocating a new buffer and copying the serialized message behind the
 * header, on the server for each response and on the client for each request: for Subscribe
 * and Produce that is every record batch copied once more, plus an allocation of the same size
 * for the garbage collector (measured: a fifth of a 1 KiB consume's wall time).
 *
 * Messages built with free room in front (by the codecs over log reads and producer batches,
 * which keep headroom: format/headroom.ts) are marked here, and grpc-js's framing is replaced by
 * one that writes the header into that room and sends the bytes as they are. Unmarked
 * messages, and compressed ones, are framed as grpc-js does.
 *
 * Received messages are gathered by grpc-js from HTTP/2 chunks into a new buffer each; here
 * large ones are gathered into buffers borrowed from the read pool instead, which a reader
 * that knows it holds the last view of one (the CLI's printer) gives back with recycleBuffer.
 *
 * The replacements reach into grpc-js's internals (BaseServerInterceptingCall,
 * CompressionFilter, StreamDecoder: methods they replace and private fields they read), as the
 * HTTP/2 window setting in server/node.ts does. So they fail safe: package.json pins grpc-js to
 * the version they were written against, and before anything is replaced every method and
 * field they rely on is checked on real grpc-js objects (PRIVATE_PARTS). If any is missing (a
 * rename would otherwise fail every response, or silently drop the receive limit), nothing is
 * replaced, grpc-js frames as it always does, and one warning says so.
 *
 * Installing is explicit: the node does it at start, the client library when asked
 * (`zeroCopy`), never an import.
 */
import {EventEmitter} from 'node:events'
import {createRequire} from 'node:module'
import {CompressionFilter} from '@grpc/grpc-js/build/src/compression-filter.js'
import {BaseServerInterceptingCall} from '@grpc/grpc-js/build/src/server-interceptors.js'
import {StreamDecoder} from '@grpc/grpc-js/build/src/stream-decoder.js'
import {borrowBuffer, claimHeadroom} from '../format/headroom.js'
import {fieldPrefixBytes, writeFieldPrefix} from './protobuf-fields.js'

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

/**
 * A message of `prefixBytes` (for the caller to fill) followed by `data`. When `data` has room
 * in front (format/headroom.ts) the message is built there, data not copied, and marked for
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

/**
 * A message whose other fields are `rest` (already encoded) and whose last field is `bytes` as
 * field `fieldNumber`: protobuf lets fields come in any order, so the large bytes go last and,
 * with room in front of them, are not copied (messageEndingWith).
 */
export function messageEndingWithBytesField(rest: Uint8Array, fieldNumber: number, bytes: Buffer): Buffer {
  const output = messageEndingWith(bytes, rest.length + fieldPrefixBytes(bytes.length))
  output.set(rest, 0)
  writeFieldPrefix(output, rest.length, fieldNumber, bytes.length)
  return output
}

/** Where the one warning goes when grpc-js's internals are not as expected. */
export interface FramingWarnings {
  warn(message: string, fields?: Record<string, unknown>): void
}

/** A value no default has, to see that an option reached the field the replacement reads. */
const PROBE_LENGTH = 1_234_567

/**
 * Every part of grpc-js the replacements rely on beyond its public API, each with a check on a
 * real grpc-js object (a check that throws counts as missing).
 */
const PRIVATE_PARTS: {name: string; present: () => boolean}[] = [
  {name: 'BaseServerInterceptingCall.prototype.serializeMessage', present: () => isMethod(BaseServerInterceptingCall.prototype, 'serializeMessage')},
  {name: 'BaseServerInterceptingCall#handler (its serialize is called)', present: serverCallKeepsHandler},
  {name: 'CompressionFilter.prototype.sendMessage', present: () => isMethod(CompressionFilter.prototype, 'sendMessage')},
  {name: 'CompressionFilter#currentCompressionAlgorithm', present: () => (new CompressionFilter({}, {}) as unknown as ClientFilterInternals).currentCompressionAlgorithm === 'identity'},
  {name: 'CompressionFilter#maxSendMessageLength', present: () => (new CompressionFilter({'grpc.max_send_message_length': PROBE_LENGTH}, {}) as unknown as ClientFilterInternals).maxSendMessageLength === PROBE_LENGTH},
  {name: 'StreamDecoder.prototype.write', present: () => isMethod(StreamDecoder.prototype, 'write')},
  {name: 'StreamDecoder#maxReadMessageLength (the receive limit)', present: () => (new StreamDecoder(PROBE_LENGTH) as unknown as DecoderInternals).maxReadMessageLength === PROBE_LENGTH},
]

interface DecoderInternals {
  maxReadMessageLength: number
}

function isMethod(prototype: object, name: string): boolean {
  return typeof (prototype as Record<string, unknown>)[name] === 'function'
}

/** A server call built over a stand-in stream keeps the handler it was given where serializeMessage reads it. */
function serverCallKeepsHandler(): boolean {
  const stream = Object.assign(new EventEmitter(), {pause() {}})
  const handler = {path: '/probe.Probe/Probe', serialize: (value: Buffer) => value}
  const call = new BaseServerInterceptingCall(stream as never, {} as never, null, handler as never, {}) as unknown as Partial<ServerCallInternals>
  return call.handler === handler
}

/** The parts of PRIVATE_PARTS this grpc-js lacks. */
export function missingGrpcParts(): string[] {
  return PRIVATE_PARTS.filter((part) => !presentSafely(part.present)).map((part) => part.name)
}

function presentSafely(present: () => boolean): boolean {
  try {
    return present()
  } catch {
    return false
  }
}

let installed: boolean | undefined

/**
 * Replaces grpc-js's framing of server responses and client requests and its gathering of
 * received messages, once per process, if every part it relies on is there; true if it did.
 * Otherwise grpc-js keeps its own (slower, as correct) and `warnings` hears of it once.
 */
export function installGrpcFraming(warnings: FramingWarnings): boolean {
  if (installed !== undefined) return installed
  const missing = missingGrpcParts()
  installed = missing.length === 0
  if (installed) {
    installServerFraming()
    installClientFraming()
    installPooledDeframing()
  } else {
    warnings.warn('gRPC messages are framed by copy, as grpc-js does: the grpc-js internals the in-place framing relies on changed; producers and consumers will be slower', {grpcJsVersion: grpcJsVersion(), missing})
  }
  return installed
}

function grpcJsVersion(): string {
  try {
    return (createRequire(import.meta.url)('@grpc/grpc-js/package.json') as {version: string}).version
  } catch {
    return 'unknown'
  }
}

function installServerFraming(): void {
  const prototype = BaseServerInterceptingCall.prototype as unknown as Record<string, unknown>
  prototype.serializeMessage = function serializeMessage(this: ServerCallInternals, value: unknown): Buffer {
    const message = this.handler.serialize(value)
    return roomInFront.delete(message) ? frameInPlace(message) : frameByCopy(message)
  }
}

function installClientFraming(): void {
  const prototype = CompressionFilter.prototype as unknown as Record<string, unknown>
  const framedByGrpcJs = prototype.sendMessage as (this: unknown, pending: Promise<WriteObject>) => Promise<WriteObject>
  prototype.sendMessage = async function sendMessage(this: ClientFilterInternals, pending: Promise<WriteObject>): Promise<WriteObject> {
    const write = await pending
    const inPlace = this.currentCompressionAlgorithm === 'identity' && (this.maxSendMessageLength === -1 || write.message.length <= this.maxSendMessageLength)
    // grpc-js compresses, or refuses the message as too large, in its own words.
    if (!inPlace || !roomInFront.delete(write.message)) return framedByGrpcJs.call(this, Promise.resolve(write))
    return {message: frameInPlace(write.message), flags: write.flags}
  }
}

/** A received message being gathered: its frame (header included) and how much of it has come. */
interface Gathering {
  header: Buffer
  headerFilled: number
  framed: Buffer | undefined
  framedFilled: number
}

const gatherings = new WeakMap<object, Gathering>()

function installPooledDeframing(): void {
  const prototype = StreamDecoder.prototype as unknown as Record<string, unknown>
  prototype.write = function write(this: DecoderInternals, data: Buffer): Buffer[] {
    let gathering = gatherings.get(this)
    if (!gathering) gatherings.set(this, (gathering = {header: Buffer.alloc(GRPC_FRAME_BYTES), headerFilled: 0, framed: undefined, framedFilled: 0}))
    return gatherMessages(gathering, data, this.maxReadMessageLength)
  }
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
