/**
 * The engine's assertion: a broken invariant is a bug, never a user error, so it crashes with
 * a plain Error (not a LignumError) naming what did not hold.
 */

export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`)
    this.name = 'AssertionError'
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message)
}

/**
 * Offsets and timestamps are JS numbers. 2^53 records is centuries of appends at a million
 * records a second, so an offset at or past it can only be a bug or a corrupt file.
 */
export const OFFSET_MAX = Number.MAX_SAFE_INTEGER

export function assertOffset(offset: number, what: string): void {
  assert(Number.isSafeInteger(offset) && offset >= 0 && offset < OFFSET_MAX, `${what} ${offset} is not an offset in [0, 2^53)`)
}
