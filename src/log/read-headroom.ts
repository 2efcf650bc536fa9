/**
 * Buffers for log reads with free bytes reserved in front of the data, so the layer that sends
 * a read can write its framing (a protobuf field header) into that room and send the read as
 * it is, instead of copying megabytes to put a few bytes before them.
 *
 *   [ reserved: HEADROOM_BYTES ][ data read from the log ... ]
 *   ^ arrayBuffer start         ^ the returned Buffer's byteOffset
 *
 * The bytes before a Buffer's view usually belong to someone else (Node pools small buffers),
 * so only the ArrayBuffers allocated here (never pooled) are known to have room, and a view
 * qualifies only if it starts exactly at the data. Claiming the room forgets it: it is used once.
 */

/** Enough for a FetchResponse's other fields with the longest topic name (249 bytes, as Kafka). */
export const HEADROOM_BYTES = 512

const reservedRoom = new WeakMap<ArrayBufferLike, number>()

/** A buffer of `length` bytes with HEADROOM_BYTES free before it. */
export function allocateWithHeadroom(length: number): Buffer {
  const whole = Buffer.allocUnsafeSlow(HEADROOM_BYTES + length)
  reservedRoom.set(whole.buffer, HEADROOM_BYTES)
  return whole.subarray(HEADROOM_BYTES)
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
