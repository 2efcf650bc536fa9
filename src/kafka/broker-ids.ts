/**
 * Kafka names brokers by an INT32; Lignum names nodes by strings. A node's broker id is the
 * number its id ends with ("n1" is 1, "node-12" is 12), so kcat -L and Kafka's tools show the
 * number an operator chose; any other id gets a 31-bit FNV-1a hash of its bytes, the same on
 * every node and across restarts.
 *
 * Invariant: the id is a non-negative INT32 and depends on the node id alone.
 */
import {assert} from '../assert.js'

// Up to 9 trailing digits always fit a non-negative INT32.
const TRAILING_NUMBER = /(\d{1,9})$/
const FNV_OFFSET_BASIS = 0x811c9dc5
const FNV_PRIME = 0x01000193
const INT31_MASK = 0x7fffffff

export function brokerIdOf(nodeId: string): number {
  const trailing = TRAILING_NUMBER.exec(nodeId)
  const id = trailing ? Number(trailing[1]) : fnv1a31(nodeId)
  assert(Number.isInteger(id) && id >= 0 && id <= INT31_MASK, `broker id ${id} of node ${nodeId} is a non-negative INT32`)
  return id
}

function fnv1a31(text: string): number {
  let hash = FNV_OFFSET_BASIS
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0
  return hash & INT31_MASK
}
