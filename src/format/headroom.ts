/**
 * Buffers with free bytes reserved in front of the data (log reads, producer batches), so the
 * layer that sends them can write its framing (protobuf field headers, gRPC's frame header)
 * into that room and send the data as it is, instead of copying megabytes to put a few bytes
 * before them.
 *
 *   [ reserved: HEADROOM_BYTES ][ data: a log read, a batch ... ]
 *   ^ arrayBuffer start         ^ the returned Buffer's byteOffset
 *
 * The bytes before a Buffer's view usually belong to someone else (Node pools small buffers),
 * so only the ArrayBuffers allocated here (never Node's pool) are known to have room, and a
 * view qualifies only if it starts exactly at the data. Claiming the room forgets it: it is
 * used once.
 *
 * Large buffers (a fetch's worth of log reads, a producer's batch, a received message) are
 * borrowed from a pool of spare buffers: allocating and collecting megabytes per fetch kept
 * the garbage collector busy for a fifth of a consume's time. The one owner that knows no view
 * of a buffer is left gives it back with recycleBuffer (the Subscribe stream once its response
 * is written, the producer once its batch is acknowledged, consume once it printed a response,
 * the node once a request is in the log); a buffer never given back is simply collected.
 */

/**
 * Enough for the other fields of a FetchResponse or ProduceRequest with the longest topic name
 * (249 bytes, as Kafka) and gRPC's 5-byte frame header.
 */
export const HEADROOM_BYTES = 512

// Smaller buffers (a tail's few records) gain little from reuse and would hold large ones.
// Low enough for the producer's default batch (just under 256 KiB) and requests carrying it.
const POOLED_MIN_BYTES = 64 * 1024
// The largest fetch the server answers (grpc-service.ts FETCH_BYTES_MAX).
const POOLED_MAX_BYTES = 16 * 1024 * 1024
// Spare buffers kept while idle: a few streams' prefetched reads at the clients' 2 MiB.
const SPARE_BYTES_MAX = 32 * 1024 * 1024

const reservedRoom = new WeakMap<ArrayBufferLike, number>()
/** Spare buffers by data capacity (a power of two), ready to lend. */
const spareByCapacity = new Map<number, ArrayBuffer[]>()
/** Pooled buffers out on loan: only these may come back, and each only once. */
const lent = new WeakSet<ArrayBufferLike>()
let spareBytes = 0

/**
 * A buffer of `length` bytes with HEADROOM_BYTES free before it, from the pool when large.
 * Give it back with recycleBuffer, or let the collector have it.
 */
export function borrowWithHeadroom(length: number): Buffer {
  const capacity = pooledCapacity(length)
  return withRoom(capacity === undefined ? newArrayBuffer(HEADROOM_BYTES + length) : borrow(capacity), length)
}

/** For a received message, likely given back with recycleBuffer: from the pool when large, else a plain allocation. */
export function borrowBuffer(length: number): Buffer {
  return pooledCapacity(length) === undefined ? Buffer.allocUnsafe(length) : borrowWithHeadroom(length)
}

function withRoom(whole: ArrayBuffer, length: number): Buffer {
  reservedRoom.set(whole, HEADROOM_BYTES)
  return Buffer.from(whole, HEADROOM_BYTES, length)
}

/**
 * `data` with `prefixBytes` more bytes in front (for the caller to fill), or undefined if `data`
 * has no such room (the caller then copies).
 */
export function claimHeadroom(data: Buffer, prefixBytes: number): Buffer | undefined {
  const room = reservedRoom.get(data.buffer)
  if (room === undefined || data.byteOffset !== room || prefixBytes > room) return undefined
  reservedRoom.delete(data.buffer)
  return Buffer.from(data.buffer, room - prefixBytes, prefixBytes + data.length)
}

/**
 * Gives a borrowed buffer back to the pool. Only for a caller that holds the last view of it:
 * the next borrower may overwrite it at once. Buffers not from the pool, or already back, are
 * ignored.
 */
export function recycleBuffer(data: Buffer): void {
  const whole = data.buffer
  if (!lent.delete(whole)) return
  if (spareBytes + whole.byteLength > SPARE_BYTES_MAX) return
  const capacity = whole.byteLength - HEADROOM_BYTES
  let spare = spareByCapacity.get(capacity)
  if (!spare) spareByCapacity.set(capacity, (spare = []))
  spare.push(whole as ArrayBuffer)
  spareBytes += whole.byteLength
}

/** The pool's size class for a buffer of `length` bytes, or undefined if it is not pooled. */
function pooledCapacity(length: number): number | undefined {
  if (length < POOLED_MIN_BYTES || length > POOLED_MAX_BYTES) return undefined
  return 2 ** Math.ceil(Math.log2(length))
}

function borrow(capacity: number): ArrayBuffer {
  const spare = spareByCapacity.get(capacity)?.pop()
  if (spare) spareBytes -= spare.byteLength
  const whole = spare ?? newArrayBuffer(HEADROOM_BYTES + capacity)
  lent.add(whole)
  return whole
}

/** Not zero-filled: every byte handed out is read from the log before anyone sees it. */
function newArrayBuffer(bytes: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer
}
