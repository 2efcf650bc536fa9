/**
 * Free loopback ports for the playground's Consul, which cannot bind port 0 and report back.
 * A port is free when both TCP and UDP can bind it on 127.0.0.1 (serf listens on both). The
 * kernel may hand the same just-closed port to the next probe, so ports handed out by this
 * process are remembered and never given twice. A probe is a moment's truth: another process
 * can take the port before Consul binds it, which Consul then reports as its failure to start.
 */
import dgram from 'node:dgram'
import net from 'node:net'

const portsHandedOut = new Set<number>()

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await freeTcpPort()
    if (portsHandedOut.has(port) || !(await udpPortFree(port))) continue
    portsHandedOut.add(port)
    return port
  }
}

/** Whether `port` can be bound for TCP and UDP on 127.0.0.1 right now. */
export async function portFree(port: number): Promise<boolean> {
  return (await tcpPortFree(port)) && (await udpPortFree(port))
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4')
    socket.once('error', () => resolve(false))
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
  })
}
