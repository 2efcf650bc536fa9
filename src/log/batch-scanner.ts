/**
 * Walks the batches of a `.log` file from a position, reading through a window so that
 * small batches cost no syscall each and large ones cost one. It stops at the first batch
 * whose header or length does not hold, whose offsets do not follow densely, or (when asked)
 * whose CRC fails, and says why: recovery truncates there, readers stop there, verify reports it.
 * Reads are synchronous: scans run while a log opens, before it serves anything.
 */
import {LignumError} from '../errors.js'
import {BATCH_HEADER_BYTES, isBatchCrcValid, readBatchHeader, type BatchHeader} from '../format/record-batch.js'
import {fileSystem} from './file-system.js'

/** Header-only scans read small windows: most of each batch is skipped. */
const HEADER_WINDOW_BYTES = 16 * 1024
/** CRC scans read every byte, so a larger window saves syscalls. */
const CRC_WINDOW_BYTES = 1024 * 1024

export interface ScanFault {
  position: number
  /** The offset the bad batch should have started at. */
  offset: number
  reason: string
}

export interface ScanResult {
  /** Bytes of whole, valid batches from the start position. */
  endPosition: number
  nextOffset: number
  fault: ScanFault | null
}

export interface ScanOptions {
  fd: number
  startPosition: number
  endPosition: number
  /** The offset the first batch must start at; null accepts whatever it holds. */
  expectedOffset: number | null
  /** Stop at a batch whose CRC fails. */
  verifyCrc: boolean
  /** Hand each whole batch to onBatch (implied by verifyCrc); without it onBatch gets null. */
  wantBatches?: boolean
  /** With verifyCrc: report a batch whose CRC fails here and go on past it (its length held). */
  onCrcFault?: (fault: ScanFault) => void
  onBatch: (header: BatchHeader, position: number, batch: Buffer | null) => void
  /**
   * Return (with no fault) after the batch that takes the scan this many bytes past its start,
   * so a caller can hand on what it has before scanning on from `endPosition`.
   */
  pauseAfterBytes?: number
}

class Window {
  buffer: Buffer
  start = 0
  length = 0

  constructor(
    readonly fd: number,
    sizeBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(sizeBytes)
  }

  /** Makes [position, position + needed) readable in `buffer`, or returns false at end of file. */
  ensure(position: number, needed: number, fileEnd: number): boolean {
    if (position + needed > fileEnd) return false
    if (position >= this.start && position + needed <= this.start + this.length) return true
    if (needed > this.buffer.length) this.buffer = Buffer.allocUnsafe(needed)
    const wanted = Math.min(this.buffer.length, fileEnd - position)
    this.start = position
    this.length = readFully(this.fd, this.buffer, wanted, position)
    return this.length >= needed
  }
}

function readFully(fd: number, buffer: Buffer, length: number, position: number): number {
  let done = 0
  const files = fileSystem()
  while (done < length) {
    const read = files.readSync(fd, buffer, done, length - done, position + done)
    if (read === 0) break
    done += read
  }
  return done
}

export function scanBatches(options: ScanOptions): ScanResult {
  const wholeBatches = options.verifyCrc || options.wantBatches === true
  const window = new Window(options.fd, wholeBatches ? CRC_WINDOW_BYTES : HEADER_WINDOW_BYTES)
  let position = options.startPosition
  let nextOffset = options.expectedOffset
  const fault = (reason: string): ScanResult => ({endPosition: position, nextOffset: nextOffset ?? -1, fault: {position, offset: nextOffset ?? -1, reason}})
  while (position < options.endPosition) {
    if (!window.ensure(position, BATCH_HEADER_BYTES, options.endPosition)) {
      return fault(`${options.endPosition - position} bytes at the end are too few for a batch header (cut short)`)
    }
    let header: BatchHeader
    try {
      header = readBatchHeader(window.buffer, position - window.start)
    } catch (error) {
      if (error instanceof LignumError) return fault(error.message)
      throw error
    }
    if (position + header.sizeBytes > options.endPosition) {
      return fault(`batch at offset ${header.baseOffset} claims ${header.sizeBytes} bytes but only ${options.endPosition - position} remain (cut short)`)
    }
    if (nextOffset !== null && header.baseOffset !== nextOffset) {
      return fault(`batch starts at offset ${header.baseOffset} where offset ${nextOffset} was expected (offsets must be dense)`)
    }
    let batch: Buffer | null = null
    if (wholeBatches) {
      if (!window.ensure(position, header.sizeBytes, options.endPosition)) return fault(`batch at offset ${header.baseOffset} could not be read whole`)
      const at = position - window.start
      if (options.verifyCrc && !isBatchCrcValid(window.buffer, at)) {
        const reason = `batch at offset ${header.baseOffset} fails its CRC-32C check`
        if (!options.onCrcFault) return fault(reason)
        options.onCrcFault({position, offset: header.baseOffset, reason})
      }
      batch = window.buffer.subarray(at, at + header.sizeBytes)
    }
    options.onBatch(header, position, batch)
    position += header.sizeBytes
    nextOffset = header.lastOffset + 1
    if (options.pauseAfterBytes !== undefined && position - options.startPosition >= options.pauseAfterBytes) break
  }
  return {endPosition: position, nextOffset: nextOffset ?? -1, fault: null}
}
