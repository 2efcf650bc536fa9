/**
 * Buffered writes to stdout (or any stream) for commands that print many small lines: chunks
 * are gathered up to OUTPUT_CHUNK_BYTES and written together, honouring backpressure. A reader
 * that closes the pipe early (`| head`) got what it wanted: the writer marks itself closed,
 * drops further output, and the command ends with exit 0 and no message.
 */
import type {Writable} from 'node:stream'

/** Large enough that a write syscall carries many records, small enough to keep latency low. */
export const OUTPUT_CHUNK_BYTES = 64 * 1024

export class OutputWriter {
  private chunks: Buffer[] = []
  private pendingBytes = 0
  private closedByReader = false

  constructor(private readonly stream: Writable = process.stdout) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.closedByReader = true
    })
  }

  /** True once the reader went away: stop producing output. */
  get closed(): boolean {
    return this.closedByReader || this.stream.destroyed
  }

  /** Adds output; resolves at once unless a chunk had to wait for the stream to drain. */
  async write(data: Buffer | string): Promise<void> {
    if (this.closed) return
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.chunks.push(buffer)
    this.pendingBytes += buffer.length
    if (this.pendingBytes >= OUTPUT_CHUNK_BYTES) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0 || this.closed) {
      this.chunks = []
      this.pendingBytes = 0
      return
    }
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.pendingBytes)
    this.chunks = []
    this.pendingBytes = 0
    if (!this.stream.write(data)) await this.drained()
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done)
        this.stream.off('close', done)
        this.stream.off('error', done)
        resolve()
      }
      this.stream.on('drain', done)
      this.stream.on('close', done)
      this.stream.on('error', done)
    })
  }
}
