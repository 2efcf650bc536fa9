/**
 * The Kafka-protocol listener: a TCP server whose connections speak Kafka's wire protocol
 * (kafka-connection.ts) onto the APIs it is given. It owns the connection bound: past
 * connectionsMax a new connection is refused at accept, so a flood of clients costs the node
 * sockets, not memory.
 *
 * With `tls` (kafka-tls.ts) it is a TLS server: a connection speaks Kafka once its handshake
 * is done, as the principal its certificate names; a failed handshake (a plaintext client, no
 * certificate where one is required) closes it with one log line.
 *
 * Invariant: stop() closes every connection and resolves once the server is closed; it is
 * idempotent.
 */
import {createServer, type Server, type Socket} from 'node:net'
import {createServer as createTlsServer, type TLSSocket} from 'node:tls'
import type {Logger} from '../logger.js'
import {ANONYMOUS_PRINCIPAL} from '../acl/acl-rule.js'
import {apiVersionsApi, type ApiVersionRange} from './apis/api-versions.js'
import type {KafkaApi} from './kafka-api.js'
import {KafkaConnection, type ConnectionLimits} from './kafka-connection.js'
import type {KafkaListenerTls} from './kafka-tls.js'

/** Kafka's socket.request.max.bytes: a request larger than this is refused before it is read. */
export const REQUEST_BYTES_MAX_DEFAULT = 100 * 1024 * 1024
/** Kafka's queued.max.requests per connection is 500 node-wide; one connection gets this many. */
export const IN_FLIGHT_REQUESTS_MAX_DEFAULT = 32
/** Connections past this are refused at accept (Kafka's max.connections). */
export const CONNECTIONS_MAX_DEFAULT = 1024

export interface KafkaListenerOptions<Context> extends Partial<ConnectionLimits> {
  host: string
  port: number
  apis: readonly KafkaApi<Context>[]
  context: Context
  logger: Logger
  connectionsMax?: number
  /** False while the node cannot serve (starting, stopping): a connection is then closed at once. */
  accepting?: () => boolean
  /** TLS (and mutual TLS) as the node's other listeners; plaintext when unset. */
  tls?: KafkaListenerTls
}

export class KafkaListener<Context> {
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private stopping: Promise<void> | undefined

  private constructor(server: Server) {
    this.server = server
  }

  static async start<Context>(options: KafkaListenerOptions<Context>): Promise<KafkaListener<Context>> {
    const apis = withApiVersions(options.apis)
    const served: ApiVersionRange[] = [...apis.values()].map((api) => ({key: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion}))
    const limits: ConnectionLimits = {
      requestBytesMax: options.requestBytesMax ?? REQUEST_BYTES_MAX_DEFAULT,
      inFlightRequestsMax: options.inFlightRequestsMax ?? IN_FLIGHT_REQUESTS_MAX_DEFAULT,
    }
    const {tls, logger} = options
    const server = tls ? createTlsServer({...tls.serverOptions, noDelay: true}) : createServer({noDelay: true})
    server.maxConnections = options.connectionsMax ?? CONNECTIONS_MAX_DEFAULT
    const listener = new KafkaListener<Context>(server)
    const serve = (socket: Socket, principal: string) => new KafkaConnection(socket, apis, served, options.context, limits, logger, principal)
    // The raw socket, before any handshake: what the bound and stop() count.
    server.on('connection', (socket: Socket) => {
      if (options.accepting && !options.accepting()) {
        socket.destroy()
        return
      }
      listener.sockets.add(socket)
      socket.on('close', () => listener.sockets.delete(socket))
      if (!tls) serve(socket, ANONYMOUS_PRINCIPAL)
    })
    if (tls) {
      tls.onSecureContextChange((context) => (server as ReturnType<typeof createTlsServer>).setSecureContext(context))
      server.on('secureConnection', (socket: TLSSocket) => {
        const who = tls.principalOf(socket)
        if (who.refusal === undefined) return void serve(socket, who.principal)
        logger.warn(`kafka client ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: closing the connection: ${who.refusal}`)
        socket.destroy()
      })
      server.on('tlsClientError', (error: NodeJS.ErrnoException & {reason?: string}, socket: TLSSocket) => {
        // A client that hangs up in the handshake (after the refusal it was sent, say) did nothing wrong here.
        if (error.code === 'ECONNRESET') return logger.debug(`kafka client: the TLS handshake ended early: ${error.message}`)
        logger.warn(`kafka client ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: closing the connection: the TLS handshake failed (${error.reason ?? error.message}); this port speaks TLS (security.protocol=SSL)${tls.serverOptions.rejectUnauthorized ? ' and requires a client certificate the node\'s CA signed' : ''}`)
      })
    }
    server.on('drop', (drop) => logger.warn(`kafka listener: refused a connection from ${drop?.remoteAddress ?? '?'}: ${server.maxConnections} connections are open (kafka.connectionsMax)`))
    await listen(server, options.host, options.port)
    return listener
  }

  get port(): number {
    const address = this.server.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise((resolve) => {
      this.server.close(() => resolve())
      for (const socket of this.sockets) socket.destroy()
    })
    return this.stopping
  }
}

function withApiVersions<Context>(apis: readonly KafkaApi<Context>[]): Map<number, KafkaApi<Context>> {
  const byKey = new Map<number, KafkaApi<Context>>()
  for (const api of apis) byKey.set(api.key, api)
  const apiVersions = apiVersionsApi(() => [...byKey.values()].map((api) => ({key: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion})))
  byKey.set(apiVersions.key, apiVersions as KafkaApi<Context>)
  return byKey
}

/** Rejects with the listen error itself: the node words it as it does for its other listeners. */
function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
}
