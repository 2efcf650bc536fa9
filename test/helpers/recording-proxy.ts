/**
 * A TCP proxy that records every byte passing through it, both ways: what a capture of the
 * loopback port would see, without tcpdump. Tests look for a value's bytes in `recorded()`.
 */
import net from 'node:net'

export interface RecordingProxy {
  address: string
  recorded(): Buffer
  close(): Promise<void>
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const index = target.lastIndexOf(':')
  const [host, port] = [target.slice(0, index), Number(target.slice(index + 1))]
  const chunks: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)))
    upstream.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)))
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port: proxyPort} = server.address() as net.AddressInfo
  return {
    address: `127.0.0.1:${proxyPort}`,
    recorded: () => Buffer.concat(chunks),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
