/**
 * The HTTP API, as Lignum's existing clients speak it:
 *   POST /api/message  {"topic":"t","message":"m"}      -> {"status":"message commited","data":"m"}
 *   GET  /api/message  {"topic":"t","from":0,"to":3}    -> {"messages":[{"Id":0,"Data":"..."}],"count":N}
 *        (a JSON body, or the same as query parameters; `to` is exclusive; partition 0 unless
 *        `partition` is given)
 * and beside it /healthz, /readyz and /metrics (Prometheus text). Errors answer
 * {"error":{"code","message"}} with a status from the error table's meaning.
 *
 * Every request but /healthz and /readyz has its principal found first (http-principal.ts): a
 * bad bearer token is a 401 with `WWW-Authenticate: Bearer` before the body is read, and so is
 * /metrics without a principal when http.metricsAccess is `authenticated`.
 *
 * /readyz answers 200 while the node serves, even with partitions offline because their files
 * are damaged: it lists them in `damagedPartitions`. Readiness decides whether the node gets
 * traffic at all; a 503 for one damaged partition would take every healthy partition out of
 * service (and, in a StatefulSet rolling update, stall the rollout), and no restart repairs
 * a file. Alert on `lignum_partition_damaged` or the detail instead.
 *
 * With authorization on, POST /api/message needs produce on the topic (and create when it
 * does not exist yet, standalone), GET needs consume; the principal is the HTTPS client
 * certificate's (http-principal.ts). /healthz and /readyz stay open: probes carry no identity.
 */
import http from 'node:http'
import https from 'node:https'
import {LignumError, type ErrorCode} from '../errors.js'
import {batchPositions, decodeRecordBatch} from '../format/record-batch.js'
import {asLignumError} from './grpc-errors.js'
import {throwIfAnyFailed} from '../broker/broker.js'
import type {ServingContext} from './serving-context.js'
import {OPEN_HTTP_ACCESS, type HttpAccess} from './http-access.js'
import {httpPrincipalOf, type BearerError} from './http-principal.js'
import {requireAllowed, requireProduce, topicResource} from './authorization.js'
import {ANONYMOUS_PRINCIPAL} from '../acl/acl-rule.js'

// One GET answers at most this many messages: bounds the response a client can ask for.
const GET_MESSAGES_MAX = 10_000
// Each read of the log asks for this much at a time while collecting a GET's messages.
const GET_READ_BYTES = 1024 * 1024

const httpStatusOfCode: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_TOPIC: 400,
  CONFIG: 400,
  PERMISSION_DENIED: 403,
  RECORD_TOO_LARGE: 413,
  REQUEST_TOO_LARGE: 413,
  UNKNOWN_TOPIC: 404,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  OFFSET_OUT_OF_RANGE: 416,
  UNAVAILABLE: 503,
  UNAUTHENTICATED: 401,
  NOT_LEADER: 503,
  NOT_ENOUGH_REPLICAS: 503,
  TIMEOUT: 504,
}

// Names the protection space in WWW-Authenticate (RFC 6750 section 3).
const AUTHENTICATION_REALM = 'lignum'

/** Plaintext, or HTTPS with `tls` (the node's secure context and client certificate policy). */
export function createHttpServer(context: ServingContext, tls?: https.ServerOptions, access: HttpAccess = OPEN_HTTP_ACCESS): http.Server | https.Server {
  const listener = (request: http.IncomingMessage, response: http.ServerResponse) => {
    handle(context, access, request, response).catch((error) => sendError(context, response, error))
  }
  return tls ? https.createServer(tls, listener) : http.createServer(listener)
}

async function handle(context: ServingContext, access: HttpAccess, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost')
  const route = `${request.method} ${url.pathname}`
  if (isProbe(route)) return handleProbe(context, route, response)
  const identity = httpPrincipalOf(request, access.tokens, access.principalMapping)
  if (identity.refusal) return refuseUnauthenticated(context, response, route, identity.refusal)
  const {principal} = identity
  // Who did what is for debug logs only, as for gRPC calls (principal.ts).
  if (principal !== undefined) context.logger.debug('http request', {route, principal})
  switch (route) {
    case 'POST /api/message':
      return postMessage(context, await readJsonBody(context, request, true), principal ?? ANONYMOUS_PRINCIPAL, response)
    case 'GET /api/message':
      return getMessages(context, {...queryObject(url), ...(await readJsonBody(context, request, false))}, principal ?? ANONYMOUS_PRINCIPAL, response)
    case 'GET /metrics': {
      if (access.metricsAccess === 'authenticated' && principal === undefined) {
        return refuseUnauthenticated(context, response, route, {message: '/metrics on this node needs a principal (http.metricsAccess authenticated); send "Authorization: Bearer <token>" or a client certificate the CA signed'})
      }
      const text = await context.metrics.registry.metrics()
      response.writeHead(200, {'content-type': context.metrics.registry.contentType})
      response.end(text)
      return
    }
    default:
      throw new LignumError('NOT_FOUND', `no route ${route}; the API has POST and GET /api/message, /healthz, /readyz and /metrics`)
  }
}

/** /healthz and /readyz: open to anyone, whatever credentials a request carries. */
function isProbe(route: string): boolean {
  return route === 'GET /healthz' || route === 'GET /readyz'
}

function handleProbe(context: ServingContext, route: string, response: http.ServerResponse): void {
  switch (route) {
    case 'GET /healthz':
      return sendJson(response, 200, {status: 'ok'})
    case 'GET /readyz': {
      const damagedPartitions = context.broker.damagedPartitions()
      return context.ready()
        ? sendJson(response, 200, {status: 'ready', cluster: context.clusterView().mode, damagedPartitions})
        : sendJson(response, 503, {status: 'not ready', consulReachable: context.clusterView().consulReachable, damagedPartitions})
    }
  }
}

/**
 * 401 with RFC 6750's challenge: no `error` when no credentials came, else the reason's code.
 * The body is never read: node:http discards it, and the connection stays open for the next request.
 */
function refuseUnauthenticated(context: ServingContext, response: http.ServerResponse, route: string, refusal: {message: string; bearerError?: BearerError}): void {
  context.logger.debug('http request refused', {route, reason: refusal.message})
  const challenge = `Bearer realm="${AUTHENTICATION_REALM}"` + (refusal.bearerError ? `, error="${refusal.bearerError}"` : '')
  response.setHeader('www-authenticate', challenge)
  sendJson(response, 401, {error: {code: 'UNAUTHENTICATED', message: refusal.message}})
}

async function postMessage(context: ServingContext, body: Record<string, unknown>, principal: string, response: http.ServerResponse): Promise<void> {
  const topic = requireString(body, 'topic')
  requireProduce(context, principal, topic)
  if (!('message' in body) || body.message === undefined || body.message === null) {
    throw new LignumError('INVALID_ARGUMENT', 'the body needs a "message" field, e.g. {"topic":"t","message":"hello"}')
  }
  const message = typeof body.message === 'string' ? body.message : JSON.stringify(body.message)
  throwIfAnyFailed(await context.broker.produce({topic, partition: -1, records: [{key: null, value: Buffer.from(message, 'utf8')}], acks: 'all'}))
  sendJson(response, 200, {status: 'message commited', data: body.message})
}

async function getMessages(context: ServingContext, body: Record<string, unknown>, principal: string, response: http.ServerResponse): Promise<void> {
  const topic = requireString(body, 'topic')
  requireAllowed(context.access, principal, 'consume', topicResource(topic))
  const partition = optionalInteger(body, 'partition') ?? 0
  const from = optionalInteger(body, 'from') ?? 0
  const to = optionalInteger(body, 'to')
  if (to !== undefined && to < from) throw new LignumError('INVALID_ARGUMENT', `"to" (${to}) is before "from" (${from}); "to" is exclusive and must be at least "from"`)
  const end = Math.min(to ?? Number.MAX_SAFE_INTEGER, from + GET_MESSAGES_MAX)
  const messages: {Id: number; Data: string}[] = []
  let offset = from
  while (offset < end) {
    const result = await context.broker.fetch(topic, partition, offset, {maxBytes: GET_READ_BYTES, maxWaitMs: 0})
    if (result.batches.length === 0) break
    if (!collectMessages(result.batches, offset, end, messages)) break
    offset = result.nextOffset
  }
  sendJson(response, 200, {messages, count: messages.length})
}

/**
 * Adds the messages of [offset, end) in `batches`, decoding only the batches that hold some
 * (each decompressed within DECOMPRESSED_BYTES_MAX, one at a time). A batch that cannot be
 * decoded ends the answer with what came before it; with nothing before it, its error is the
 * answer, naming its offset. Returns false when the answer is complete.
 */
function collectMessages(batches: Buffer, offset: number, end: number, messages: {Id: number; Data: string}[]): boolean {
  for (const {position, header} of batchPositions(batches)) {
    // Transaction markers hold offsets but no messages.
    if (header.isControl || header.lastOffset < offset) continue
    if (header.baseOffset >= end) return false
    let records
    try {
      records = decodeRecordBatch(batches, position).records
    } catch (error) {
      if (messages.length > 0 && error instanceof LignumError && (error.code === 'CORRUPT_RECORD' || error.code === 'UNSUPPORTED_CODEC')) return false
      throw error
    }
    for (const record of records) {
      if (record.offset >= offset && record.offset < end) messages.push({Id: record.offset, Data: record.value?.toString('utf8') ?? ''})
    }
  }
  return true
}

async function readJsonBody(context: ServingContext, request: http.IncomingMessage, required: boolean): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let sizeBytes = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length
    if (sizeBytes > context.requestBytesMax) {
      throw new LignumError('REQUEST_TOO_LARGE', `the request body exceeds ${context.requestBytesMax} bytes; send less or raise requestBytesMax`)
    }
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') {
    if (required) throw new LignumError('INVALID_ARGUMENT', 'the request needs a JSON body, e.g. {"topic":"t","message":"hello"}')
    return {}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new LignumError('INVALID_ARGUMENT', `the body is not valid JSON (${(error as Error).message}); send an object such as {"topic":"t","message":"hello"}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LignumError('INVALID_ARGUMENT', 'the body must be a JSON object, e.g. {"topic":"t","message":"hello"}')
  }
  return parsed as Record<string, unknown>
}

function queryObject(url: URL): Record<string, unknown> {
  return Object.fromEntries(url.searchParams.entries())
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field]
  if (typeof value !== 'string' || value === '') throw new LignumError('INVALID_ARGUMENT', `the request needs a "${field}" string`)
  return value
}

function optionalInteger(body: Record<string, unknown>, field: string): number | undefined {
  const raw = body[field]
  if (raw === undefined || raw === null || raw === '') return undefined
  const value = typeof raw === 'string' ? Number(raw) : raw
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new LignumError('INVALID_ARGUMENT', `"${field}" must be a whole number from 0, not ${JSON.stringify(raw)}`)
  }
  return value
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  response.end(text)
}

function sendError(context: ServingContext, response: http.ServerResponse, error: unknown): void {
  const failure = asLignumError(error)
  if (failure.code === 'INTERNAL') context.logger.error('http request failed', {error})
  if (response.headersSent) {
    response.destroy()
    return
  }
  sendJson(response, httpStatusOfCode[failure.code] ?? 500, {error: {code: failure.code, message: failure.message, ...(failure.hint === undefined ? {} : {hint: failure.hint})}})
}
