/**
 * Buffered writes to stdout (or any stream) for commands that print many small lines: chunks
 * are gathered up to OUTPUT_CHUNK_BYTES and written together, honouring backpressure. A reader
 * that closes the pipe early (`| head`) got what it wanted: the writer marks itself closed,
 * drops further output, and the command ends with exit 0 and no message.
 */
import type {Writable} from 'node:stream'

/**
 * Large enough that a write carries many records and that few writes wait for the stream to
 * drain (each wait is a promise and an event; 256 KiB used measurably less CPU than 64 KiB
 * piping 200 MB), small enough to keep memory and latency low. Followers see records at once
 * anyway: consume flushes after every fetched batch.
 */
export const OUTPUT_CHUNK_BYTES = 256 * 1024

export class OutputWriter {
  private chunks: Buffer[] = []
  /** Called once the writer no longer needs the chunk a caller lent it (see write). */
  private releases: (() => void)[] = []
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

  /**
   * Adds output; resolves at once unless a chunk had to wait for the stream to drain. A caller
   * that wants its buffer back (to reuse it, saving an allocation per chunk) passes `onRelease`:
   * it is called once the data is written, copied or dropped.
   */
  async write(data: Buffer | string, onRelease?: () => void): Promise<void> {
    if (this.closed) {
      onRelease?.()
      return
    }
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.chunks.push(buffer)
    if (onRelease) this.releases.push(onRelease)
    this.pendingBytes += buffer.length
    if (this.pendingBytes >= OUTPUT_CHUNK_BYTES) await this.flush()
  }

  async flush(): Promise<void> {
    const chunks = this.chunks
    const releases = this.releases
    const releaseAll = () => {
      for (const release of releases) release()
    }
    this.chunks = []
    this.releases = []
    const pendingBytes = this.pendingBytes
    this.pendingBytes = 0
    if (pendingBytes === 0 || this.closed) return releaseAll()
    if (chunks.length > 1) {
      const joined = Buffer.concat(chunks, pendingBytes)
      releaseAll()
      if (!this.stream.write(joined)) await this.waitForDrain()
      return
    }
    const written = releases.length > 0 ? this.stream.write(chunks[0], releaseAll) : this.stream.write(chunks[0])
    if (!written) await this.waitForDrain()
  }

  /** Resolves once everything written so far has left the process (or the stream closed): safe to exit. */
  async drained(): Promise<void> {
    if (this.closed) return
    await new Promise<void>((resolve) => {
      // Write callbacks run in order: this one runs once every earlier write is done.
      if (!this.stream.write('', () => resolve())) void this.waitForDrain().then(resolve)
    })
  }

  private waitForDrain(): Promise<void> {
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
