/**
 * Free loopback ports for the playground's Consul, which cannot bind port 0 and report back.
 * A port is free when both TCP and UDP can bind it on 127.0.0.1 (serf listens on both).
 * Ports are drawn at random from below the kernel's ephemeral range: every outgoing
 * connection takes its local port from that range, so a port probed there can be taken by
 * some client's connect before Consul binds it. Ports handed out by this process are
 * remembered and never given twice. A probe is still a moment's truth: another process can
 * take the port before Consul binds it, which Consul then reports as its failure to start.
 */
import dgram from 'node:dgram'
import {readFileSync} from 'node:fs'
import net from 'node:net'

/** Lowest port handed out: above the registered ports most services default to. */
const PORT_LOW = 10_000
/** Linux's default ephemeral range starts here; used when the kernel's setting cannot be read. */
const EPHEMERAL_LOW_DEFAULT = 32_768
/** Probes before giving up: the range is ~20,000 ports, so this many failures means something is wrong. */
const PROBES_MAX = 1_000

const portsHandedOut = new Set<number>()

export async function freePort(): Promise<number> {
  const high = ephemeralRangeLow()
  for (let probe = 0; probe < PROBES_MAX; probe++) {
    const port = PORT_LOW + Math.floor(Math.random() * (high - PORT_LOW))
    if (portsHandedOut.has(port) || !(await portFree(port))) continue
    portsHandedOut.add(port)
    return port
  }
  throw new Error(`no free port between ${PORT_LOW} and ${high} on 127.0.0.1 after ${PROBES_MAX} tries`)
}

/** The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range). */
function ephemeralRangeLow(): number {
  try {
    const low = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? '', 10)
    return Number.isInteger(low) && low > PORT_LOW + 1_000 ? low : EPHEMERAL_LOW_DEFAULT
  } catch {
    return EPHEMERAL_LOW_DEFAULT
  }
}

/** Whether `port` can be bound for TCP and UDP on 127.0.0.1 right now. */
export async function portFree(port: number): Promise<boolean> {
  return (await tcpPortFree(port)) && (await udpPortFree(port))
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
