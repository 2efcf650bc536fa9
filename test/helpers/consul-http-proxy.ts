/**
 * An HTTP proxy in front of Consul that can hold the requests a rule picks (cut off and never
 * answered, in flight or sent later, until released) and tells a listener about every request
 * it forwards: a node cut from part of Consul's API, and the order of the node's calls.
 */
import http from 'node:http'
import type net from 'node:net'

export type RequestRule = (method: string, path: string) => boolean

export interface ConsulHttpProxy {
  url: string
  /** Holds what `rule` picks from now on, and cuts off what it picks in flight. */
  hold(rule: RequestRule): void
  release(): void
  /** Called for every request as it arrives, before it is forwarded. */
  onRequest(listener: (method: string, path: string) => void): void
  close(): Promise<void>
}

export async function startConsulHttpProxy(consulUrl: string): Promise<ConsulHttpProxy> {
  const target = new URL(consulUrl)
  let rule: RequestRule | undefined
  const listeners: ((method: string, path: string) => void)[] = []
  const inFlight = new Set<{method: string; path: string; socket: net.Socket}>()
  const held = new Set<net.Socket>()
  const sockets = new Set<net.Socket>()
  const server = http.createServer((request, response) => {
    const method = request.method ?? 'GET'
    const path = request.url ?? '/'
    for (const listener of listeners) listener(method, path)
    if (rule?.(method, path)) {
      held.add(request.socket)
      return
    }
    const flight = {method, path, socket: request.socket}
    inFlight.add(flight)
    const upstream = http.request({host: target.hostname, port: target.port, method, path, headers: request.headers}, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
      answer.on('end', () => inFlight.delete(flight))
    })
    upstream.on('error', () => {
      inFlight.delete(flight)
      request.socket.destroy()
    })
    response.on('close', () => {
      inFlight.delete(flight)
      upstream.destroy()
    })
    request.pipe(upstream)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hold(picked) {
      rule = picked
      for (const flight of [...inFlight]) {
        if (picked(flight.method, flight.path)) flight.socket.destroy()
      }
    },
    release() {
      rule = undefined
      for (const socket of held) socket.destroy()
      held.clear()
    },
    onRequest(listener) {
      listeners.push(listener)
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
