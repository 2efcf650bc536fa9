/**
 * Prints consumed records to stdout as consume and tail do: --json lines, a --format
 * template, or each value on its own line. The default (values and newlines) is the hot path
 * of `consume | ...` and copies values straight into a large output buffer; the others render
 * per record. Output is written in large chunks; a closed pipe stops it quietly.
 */
import type {RecordChunk} from '../client/index.js'
import type {LogRecord} from '../log/record-batch.js'
import {OUTPUT_CHUNK_BYTES, OutputWriter} from '../ui/output-writer.js'
import {compileTemplate, formatJsonLine, type RecordLocation} from '../ui/record-format.js'

export interface PrintOptions {
  json?: boolean
  format?: string
}

const NEWLINE = 0x0a

export class RecordPrinter {
  private readonly writer = new OutputWriter(process.stdout)
  private readonly render: ((record: LogRecord, location: RecordLocation) => Buffer | string) | undefined
  private buffer = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES)
  private used = 0

  constructor(options: PrintOptions) {
    if (options.json) this.render = formatJsonLine
    else if (options.format !== undefined) this.render = compileTemplate(options.format)
  }

  get closed(): boolean {
    return this.writer.closed
  }

  /** Prints up to `limit` records of the chunk; returns how many it printed. */
  async printChunk(chunk: RecordChunk, limit = Number.POSITIVE_INFINITY): Promise<number> {
    const count = Math.min(limit, chunk.records.length)
    for (let index = 0; index < count; index++) {
      const record = chunk.records[index]
      if (this.render) await this.writer.write(this.render(record, chunk))
      else await this.appendLine(record.value)
      if (this.writer.closed) return index + 1
    }
    return count
  }

  private async appendLine(value: Buffer | null): Promise<void> {
    const length = (value?.length ?? 0) + 1
    if (this.used + length > this.buffer.length) await this.flushBuffer()
    if (length > this.buffer.length) {
      if (value) await this.writer.write(value)
      await this.writer.write('\n')
      return
    }
    if (value) value.copy(this.buffer, this.used)
    this.buffer[this.used + length - 1] = NEWLINE
    this.used += length
  }

  private async flushBuffer(): Promise<void> {
    if (this.used === 0) return
    // The writer keeps a reference until it writes: hand over this buffer and start a new one.
    const full = this.buffer.subarray(0, this.used)
    this.buffer = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES)
    this.used = 0
    await this.writer.write(full)
  }

  async flush(): Promise<void> {
    await this.flushBuffer()
    await this.writer.flush()
  }
}
