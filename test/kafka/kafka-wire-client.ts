/**
 * A bare Kafka-protocol client for the listener's tests: sends size-prefixed frames, reads
 * size-prefixed responses, and reports when the server closes the connection.
 */
import {connect, type Socket} from 'node:net'
import {KafkaWriter} from '../../src/kafka/protocol/kafka-writer.js'

export class KafkaWireClient {
  private buffered = Buffer.alloc(0)
  private readonly waiting: ((frame: Buffer | null) => void)[] = []
  private readonly frames: Buffer[] = []
  closed = false

  private constructor(private readonly socket: Socket) {
    socket.on('data', (data) => this.receive(data))
    socket.on('close', () => {
      this.closed = true
      for (const wake of this.waiting.splice(0)) wake(null)
    })
    socket.on('error', () => {})
  }

  static connect(port: number): Promise<KafkaWireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new KafkaWireClient(socket)))
      socket.once('error', reject)
    })
  }

  /** A request with header v1 (or v2 when flexible) and `body`. */
  send(apiKey: number, apiVersion: number, correlationId: number, body: Buffer, flexible = false, clientId = 'test'): void {
    const header = new KafkaWriter().int16(apiKey).int16(apiVersion).int32(correlationId).nullableString(clientId)
    if (flexible) header.emptyTaggedFields()
    this.sendFrame(Buffer.concat([header.toBuffer(), body]))
  }

  sendFrame(frame: Buffer): void {
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(frame.length)
    this.socket.write(Buffer.concat([prefix, frame]))
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** The next response frame (without its size), or null once the server has closed. */
  next(): Promise<Buffer | null> {
    const frame = this.frames.shift()
    if (frame) return Promise.resolve(frame)
    if (this.closed) return Promise.resolve(null)
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  close(): void {
    this.socket.destroy()
  }

  private receive(data: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, data])
    while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
      const size = this.buffered.readInt32BE(0)
      const frame = this.buffered.subarray(4, 4 + size)
      this.buffered = this.buffered.subarray(4 + size)
      const wake = this.waiting.shift()
      if (wake) wake(frame)
      else this.frames.push(frame)
    }
  }
}
