/**
 * Prints consumed records to stdout as consume and tail do: --json lines, a --format
 * template, or each value on its own line. The default (values and newlines) is the hot path
 * of `consume | ...` and copies values straight into a large output buffer; the others render
 * per record. Output is written in large chunks; a closed pipe stops it quietly.
 */
import type {RecordChunk} from '../client/index.js'
import type {LogRecord} from '../format/record-batch.js'
import {OUTPUT_CHUNK_BYTES, OutputWriter} from '../ui/output-writer.js'
import {compileDelimited, compileTemplate, formatJsonLine, type RecordLocation} from '../ui/record-format.js'

export interface PrintOptions {
  json?: boolean
  format?: string
  /** -K: print the key, this delimiter, then the value. */
  keyDelimiter?: Buffer
  /** -D: after each record instead of the newline. */
  recordDelimiter?: Buffer
}

const NEWLINE = 0x0a
// The writer waits for the stream to drain after each full chunk, so few are ever in flight.
const SPARE_BUFFERS_MAX = 4

export class RecordPrinter {
  private readonly writer = new OutputWriter(process.stdout)
  private readonly render: ((record: LogRecord, location: RecordLocation) => Buffer | string) | undefined
  /** The byte after each value on the hot path: a newline, or a one-byte -D. */
  private readonly separator: number = NEWLINE
  private buffer: Buffer = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES)
  private used = 0
  /** Output buffers the writer has finished with, reused rather than allocated per chunk. */
  private readonly spareBuffers: Buffer[] = []

  constructor(options: PrintOptions) {
    if (options.json) this.render = formatJsonLine
    else if (options.format !== undefined) this.render = compileTemplate(options.format)
    else if (options.keyDelimiter !== undefined || (options.recordDelimiter !== undefined && options.recordDelimiter.length > 1)) {
      this.render = compileDelimited(options.keyDelimiter, options.recordDelimiter ?? Buffer.from([NEWLINE]))
    } else if (options.recordDelimiter !== undefined) this.separator = options.recordDelimiter[0]
  }

  get closed(): boolean {
    return this.writer.closed
  }

  /** Prints up to `limit` records of the chunk; returns how many it printed. */
  async printChunk(chunk: RecordChunk, limit = Number.POSITIVE_INFINITY): Promise<number> {
    const count = Math.min(limit, chunk.count)
    const render = this.render
    if (!render) return this.printValues(chunk, count)
    for (let index = 0; index < count; index++) {
      await this.writer.write(render(chunk.records[index], chunk))
      if (this.writer.closed) return index + 1
    }
    return count
  }

  /** The hot path: values copied from the fetched batch into the output buffer, no object per record. */
  private async printValues(chunk: RecordChunk, count: number): Promise<number> {
    let index = 0
    while (index < count) {
      const written = chunk.writeValueLines(index, count, this.buffer, this.used, this.separator)
      index += written.count
      this.used = written.position
      if (index === count) break
      // The buffer is full, or one value is larger than the whole buffer.
      if (this.used > 0) await this.flushBuffer()
      else await this.writeLargeLine(chunk.records[index++].value)
      if (this.writer.closed) return index
    }
    return count
  }

  private async writeLargeLine(value: Buffer | null): Promise<void> {
    if (value) await this.writer.write(value)
    await this.writer.write(Buffer.from([this.separator]))
  }

  private async flushBuffer(): Promise<void> {
    if (this.used === 0) return
    // The writer keeps a reference until it writes: hand over this buffer, take a spare one,
    // and get it back once written.
    const full = this.buffer
    const used = this.used
    this.buffer = this.spareBuffers.pop() ?? Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES)
    this.used = 0
    await this.writer.write(full.subarray(0, used), () => {
      if (this.spareBuffers.length < SPARE_BUFFERS_MAX) this.spareBuffers.push(full)
    })
  }

  async flush(): Promise<void> {
    await this.flushBuffer()
    await this.writer.flush()
  }

  /** Resolves once everything printed has left the process: safe to exit, even with an error. */
  async drained(): Promise<void> {
    await this.writer.drained()
  }
}
