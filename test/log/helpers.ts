/** Scratch directories and small builders shared by the log tests. */
import {mkdtemp, open, rm, type FileHandle} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {encodeRecordBatch, type RecordInput} from '../../src/format/record-batch.js'

export async function scratchDir(): Promise<{dir: string; cleanup: () => Promise<void>}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lignum-log-test-'))
  return {dir, cleanup: () => rm(dir, {recursive: true, force: true})}
}

export function valueRecords(values: string[], timestamp?: number): RecordInput[] {
  return values.map((value) => ({key: null, value: Buffer.from(value), timestamp}))
}

export function batchOf(values: string[], timestamp = 1_700_000_000_000): Buffer {
  return encodeRecordBatch(valueRecords(values, timestamp))
}

/** A capturing logger, so tests can assert what recovery reported. */
export function memoryLogger(): {info: (m: string, f?: object) => void; warn: (m: string, f?: object) => void; lines: {level: string; message: string; fields?: object}[]} {
  const lines: {level: string; message: string; fields?: object}[] = []
  return {
    lines,
    info: (message, fields) => lines.push({level: 'info', message, fields}),
    warn: (message, fields) => lines.push({level: 'warn', message, fields}),
  }
}

/** An independent, table-driven CRC-32C (Castagnoli, reflected 0x82F63B78) to check the native one against. */
export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * A data directory written by the engine: `orders` with two partitions of `recordsPerPartition`
 * records in one-record batches ("p<partition>-<n>", key "k<n>", timestamp base + n seconds,
 * a header h=<n>) and small segments, plus `binary-0` with non-UTF-8 bytes.
 */
export async function buildDataDir(dataDir: string, recordsPerPartition = 20): Promise<void> {
  const {PartitionLog} = await import('../../src/log/partition-log.js')
  for (const partition of [0, 1]) {
    const log = await PartitionLog.open(path.join(dataDir, `orders-${partition}`), {segmentBytes: 1000, indexIntervalBytes: 150, flushPolicy: 'never'})
    for (let index = 0; index < recordsPerPartition; index++) {
      await log.append(
        encodeRecordBatch([{key: Buffer.from(`k${index}`), value: Buffer.from(`p${partition}-${index}`), headers: [{key: 'h', value: Buffer.from(String(index))}], timestamp: FIXTURE_TIMESTAMP + index * 1000}]),
      )
    }
    await log.close()
  }
  const binary = await PartitionLog.open(path.join(dataDir, 'binary-0'), {flushPolicy: 'never'})
  await binary.append(encodeRecordBatch([{key: Buffer.from([0xff, 0x00]), value: Buffer.from([0xfe, 0x01]), headers: [{key: 'bin', value: Buffer.from([0xc3])}], timestamp: FIXTURE_TIMESTAMP}, {key: null, value: null, timestamp: FIXTURE_TIMESTAMP}]))
  await binary.close()
}

export const FIXTURE_TIMESTAMP = 1_700_000_000_000

/** An errno-shaped error as node:fs raises it. */
export function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {ENOSPC: 'no space left on device', EIO: 'i/o error', EROFS: 'read-only file system'}
  return Object.assign(new Error(`${code}: ${messages[code] ?? code}, ${syscall}`), {code, syscall})
}

/**
 * A seam under the segment files (PartitionLog's `openFile` option): counts fdatasyncs, and
 * makes the next opens, writes or truncations fail as a disk would. A failing write first
 * writes `partialBytes` of its data for real, as a short write before ENOSPC does.
 */
export interface DiskSeam {
  openFile: (file: string, flags: string) => Promise<FileHandle>
  datasyncs: number
  opens: number
  failOpens: {error: NodeJS.ErrnoException; times: number} | null
  failWrites: {error: NodeJS.ErrnoException; partialBytes: number; times: number} | null
  failTruncates: {error: NodeJS.ErrnoException; times: number} | null
  failDatasyncs: {error: NodeJS.ErrnoException; times: number} | null
}

export function diskSeam(): DiskSeam {
  const seam: DiskSeam = {
    datasyncs: 0,
    opens: 0,
    failOpens: null,
    failWrites: null,
    failTruncates: null,
    failDatasyncs: null,
    async openFile(file, flags) {
      if (seam.failOpens && seam.failOpens.times-- > 0) throw seam.failOpens.error
      seam.opens++
      return instrument(await open(file, flags))
    },
  }
  const instrument = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, property) {
        if (property === 'datasync') {
          return async () => {
            seam.datasyncs++
            if (seam.failDatasyncs && seam.failDatasyncs.times-- > 0) throw seam.failDatasyncs.error
            return target.datasync()
          }
        }
        if ((property === 'write' || property === 'writev') && seam.failWrites && seam.failWrites.times > 0) {
          const failure = seam.failWrites
          return async (first: Buffer | Buffer[], ...rest: unknown[]) => {
            failure.times--
            const data = Array.isArray(first) ? Buffer.concat(first) : first
            const position = (Array.isArray(first) ? rest[0] : rest[2]) as number
            if (failure.partialBytes > 0) await target.write(data, 0, Math.min(failure.partialBytes, data.length), position)
            throw failure.error
          }
        }
        if (property === 'truncate' && seam.failTruncates && seam.failTruncates.times > 0) {
          const failure = seam.failTruncates
          return async () => {
            failure.times--
            throw failure.error
          }
        }
        const value = Reflect.get(target, property, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  return seam
}
