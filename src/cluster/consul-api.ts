/**
 * The few Consul HTTP calls the cluster layer makes, typed, over the npm `consul` client.
 *
 * Every call has a deadline (a hung Consul must not hang a node) and can be cancelled by
 * `close()` (so stop() never waits out a blocking query). Every call carries the ACL token
 * (X-Consul-Token) when one is configured, and goes over HTTPS with the configured CA and
 * client certificate when the address is https://. Every failure to reach Consul, or an
 * answer Consul gives with a 5xx, becomes a retriable LignumError('UNAVAILABLE') with the
 * original error as cause; callers decide whether to retry. A refusal by Consul's ACLs (403,
 * or a transaction's "Permission denied") is CONSUL_PERMISSION_DENIED, not retriable: retrying
 * with the same token cannot help, and the message names the call and the rule it needs.
 */
import {EventEmitter} from 'node:events'
import https from 'node:https'
import Consul from 'consul'
import {LignumError} from '../errors.js'
import type {ConsulAccess} from './consul-access.js'
import {consulFailureMessage, permissionDenial, tokenFix} from './consul-failures.js'

/** One KV entry as Consul returns it, with the value already decoded to text. */
export interface KvEntry {
  key: string
  value: string | null
  modifyIndex: number
  session: string | undefined
}

/** A service instance of the health endpoint: its registration and the state of its checks. */
export interface ServiceHealth {
  serviceId: string
  address: string
  port: number
  meta: Record<string, string>
  passing: boolean
}

/** The answer of a blocking query: the data and the index to block on next. */
export interface Blocking<T> {
  data: T
  index: number
}

/** One operation of a Consul transaction, in Consul's own shape (values are base64). */
export interface TxnKvOperation {
  KV: {Verb: string; Key: string; Value?: string; Index?: number; Session?: string}
}

export type TxnResult = {ok: true; results: {key: string; modifyIndex: number}[]} | {ok: false; errors: string[]}

export interface ServiceRegistration {
  serviceId: string
  serviceName: string
  address: string
  port: number
  meta: Record<string, string>
  checkId: string
  checkTtlMs: number
  deregisterCriticalAfterMs: number
}

interface ResponseLike {
  statusCode: number
  headers: Record<string, string | undefined>
  body: unknown
}

interface ConsulError extends Error {
  response?: ResponseLike
}

/** Room a blocking query's HTTP deadline leaves beyond Consul's own wait, for its jitter (wait/16). */
const BLOCKING_DEADLINE_MARGIN_MS = 5_000

export function encodeValue(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

/**
 * The npm client's methods as this file calls them: with a papi context (`includeResponse`)
 * every method resolves with [response, body], which its own typings do not describe.
 */
type Call = (options: object) => Promise<unknown>
interface LooseConsul {
  agent: {service: {register: Call; deregister: Call}; check: {pass: Call}}
  status: {leader: Call}
  _post: (request: object, next: (request: {err?: Error; res?: ResponseLike}, next: (stop: boolean, error?: Error, result?: unknown) => void) => void) => Promise<unknown>
  session: {create: Call; info: Call; destroy: Call; list: Call}
  kv: {get: Call; keys: Call}
  health: {service: Call}
  transaction: {create: (operations: unknown, options: object) => Promise<unknown>}
  destroy(): void
}

export class ConsulApi {
  private readonly client: LooseConsul
  private readonly cancel = new EventEmitter()
  private closed = false

  constructor(
    readonly consulUrl: string,
    private readonly requestTimeoutMs: number,
    private readonly access: ConsulAccess = {},
  ) {
    const url = parseConsulUrl(consulUrl)
    const port = Number(url.port || defaultPort(url))
    const secure = url.protocol === 'https:'
    // Without a CA file Node's own trust store applies, as for Consul's CLI without CONSUL_CACERT.
    const agent = secure ? new https.Agent({keepAlive: true, ca: access.tls?.ca, cert: access.tls?.cert, key: access.tls?.key}) : undefined
    this.client = new Consul({host: url.hostname, port, secure, ...(agent ? {agent} : {})}) as unknown as LooseConsul
    this.cancel.setMaxListeners(0)
  }

  /** Whether a token is configured (never the token itself), for messages. */
  get hasToken(): boolean {
    return this.access.token !== undefined
  }

  /** The Raft leader's address: needs no ACL, so it tells reaching Consul apart from being allowed. */
  async leader(): Promise<string> {
    const {body} = await this.call<string | undefined>('status.leader', (options) => this.client.status.leader({...options}))
    return body ?? ''
  }

  /**
   * Asks Consul whether this token may do each of `checks`, without doing any of them
   * (Consul's /v1/internal/acl/authorize, which its UI uses; present since 1.7). Undefined when
   * this Consul does not offer it (404) or has no ACLs (401), so a caller can skip the question.
   */
  async authorize(checks: AuthorizationCheck[]): Promise<boolean[] | undefined> {
    try {
      const {body} = await this.call<{Allow: boolean}[]>('acl.authorize', (options) =>
        this.client._post({name: 'acl.authorize', path: '/internal/acl/authorize', type: 'json', body: checks, ...requestOptionsOf(options)}, (request, next) => {
          if (request.err) return next(false, request.err)
          next(false, undefined, [request.res, request.res?.body])
        }),
      )
      return body.map((answer) => answer.Allow === true)
    } catch (error) {
      const status = ((error as LignumError).cause as ConsulError | undefined)?.response?.statusCode
      // 404: no such endpoint here; 401 "ACL support disabled": nothing to ask, all is allowed.
      if (status === 404 || status === 401) return undefined
      throw error
    }
  }

  /** Aborts every call in flight and refuses new ones. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.cancel.emit('cancel')
    this.client.destroy()
  }

  async registerService(registration: ServiceRegistration): Promise<void> {
    await this.call('agent.service.register', (options) =>
      this.client.agent.service.register({
        ...options,
        id: registration.serviceId,
        name: registration.serviceName,
        address: registration.address,
        port: registration.port,
        meta: registration.meta,
        check: {
          checkid: registration.checkId,
          name: `${registration.serviceName} TTL`,
          ttl: `${registration.checkTtlMs}ms`,
          status: 'passing',
          deregistercriticalserviceafter: `${registration.deregisterCriticalAfterMs}ms`,
        },
      }),
    )
  }

  async deregisterService(serviceId: string): Promise<void> {
    await this.call('agent.service.deregister', (options) => this.client.agent.service.deregister({...options, id: serviceId}))
  }

  /** Marks a TTL check passing; Consul answers an error when the agent no longer knows the check. */
  async passCheck(checkId: string): Promise<void> {
    await this.call('agent.check.pass', (options) => this.client.agent.check.pass({...options, id: checkId}))
  }

  /** A session tied to `checkIds`; with `ttlMs`, one Consul also ends on its own (and then deletes its locks' keys). */
  async createSession(session: {name: string; checkIds: string[]; lockDelayMs: number; ttlMs?: number}): Promise<string> {
    const {body} = await this.call<{ID: string}>('session.create', (options) =>
      this.client.session.create({
        ...options,
        name: session.name,
        checks: session.checkIds,
        lockdelay: `${session.lockDelayMs}ms`,
        ...(session.ttlMs === undefined ? {behavior: 'release'} : {behavior: 'delete', ttl: `${Math.ceil(session.ttlMs / 1000)}s`}),
      }),
    )
    return body.ID
  }

  /** The Consul node (agent) a session belongs to, or undefined when Consul no longer holds it. */
  async sessionNode(sessionId: string): Promise<string | undefined> {
    const {body} = await this.call<{ID?: string; Node?: string} | undefined>('session.info', (options) =>
      this.client.session.info({...options, id: sessionId}),
    )
    return body?.ID === sessionId ? body.Node : undefined
  }

  /** Whether Consul still holds the session (a session tied to a check dies when the check fails). */
  async sessionExists(sessionId: string): Promise<boolean> {
    const {body} = await this.call<{ID?: string} | undefined>('session.info', (options) =>
      this.client.session.info({...options, id: sessionId}),
    )
    return body?.ID === sessionId
  }

  async destroySession(sessionId: string): Promise<void> {
    await this.call('session.destroy', (options) => this.client.session.destroy({...options, id: sessionId}))
  }

  /** Every session the cluster of agents holds, by id and name. */
  async listSessions(): Promise<{id: string; name: string}[]> {
    const {body} = await this.call<{ID: string; Name?: string}[] | undefined>('session.list', (options) => this.client.session.list({...options}))
    return (body ?? []).map((session) => ({id: session.ID, name: session.Name ?? ''}))
  }

  /** Every key under `prefix`, blocking until it changes past `index` (0: answer at once). */
  async kvTree(prefix: string, index: number, waitMs: number, signal?: AbortSignal): Promise<Blocking<KvEntry[]>> {
    const {response, body} = await this.call<RawKvEntry[] | undefined>(
      'kv.get',
      (options) => this.client.kv.get({...options, key: prefix, recurse: true}),
      {index, waitMs, signal},
    )
    return {data: (body ?? []).map(toKvEntry), index: consulIndexOf(response)}
  }

  /** One key, or undefined when it does not exist. */
  async kvGet(key: string): Promise<KvEntry | undefined> {
    const {body} = await this.call<RawKvEntry | undefined>('kv.get', (options) => this.client.kv.get({...options, key}))
    return body ? toKvEntry(body) : undefined
  }

  /**
   * The names of the keys directly under `prefix` (`?keys&separator=/`), without their values,
   * blocking past `index`: what a node watches to learn that keys appeared or went away
   * without being sent every value each time one of them changes.
   */
  async kvKeys(prefix: string, index: number, waitMs: number, signal?: AbortSignal): Promise<Blocking<string[]>> {
    try {
      const {response, body} = await this.call<string[] | undefined>(
        'kv.keys',
        (options) => this.client.kv.keys({...options, key: prefix, separator: '/'}),
        {index, waitMs, signal},
      )
      return {data: body ?? [], index: consulIndexOf(response)}
    } catch (error) {
      // No key under the prefix is a 404 that still carries the index to block on.
      const response = ((error as LignumError).cause as ConsulError | undefined)?.response
      if (response?.statusCode === 404) return {data: [], index: consulIndexOf(response)}
      throw error
    }
  }

  /** Every instance of `serviceName` with the state of its checks, blocking past `index`. */
  async serviceHealth(serviceName: string, index: number, waitMs: number): Promise<Blocking<ServiceHealth[]>> {
    const {response, body} = await this.call<RawServiceEntry[] | undefined>(
      'health.service',
      (options) => this.client.health.service({...options, service: serviceName}),
      {index, waitMs},
    )
    const services = (body ?? []).map((entry) => ({
      serviceId: entry.Service.ID,
      address: entry.Service.Address,
      port: entry.Service.Port,
      meta: entry.Service.Meta ?? {},
      passing: entry.Checks.every((check) => check.Status === 'passing'),
    }))
    return {data: services, index: consulIndexOf(response)}
  }

  /** Runs KV operations atomically; a rolled-back transaction is an answer (`ok: false`), not an error. */
  async transaction(operations: TxnKvOperation[]): Promise<TxnResult> {
    try {
      const {body} = await this.call<RawTxnBody>('txn', (options) => this.client.transaction.create(operations, options))
      const results = (body.Results ?? []).map((result) => ({key: result.KV.Key, modifyIndex: result.KV.ModifyIndex}))
      return {ok: true, results}
    } catch (error) {
      const response = ((error as LignumError).cause as ConsulError | undefined)?.response
      if (response?.statusCode === 409) {
        const body = response.body as RawTxnBody | undefined
        const errors = (body?.Errors ?? []).map((entry) => entry.What)
        // A refusal by the ACLs rolls the transaction back too, but it is no lost race: retrying cannot win it.
        const refusal = errors.find((what) => permissionDenial(what) !== undefined)
        if (refusal !== undefined) throw this.permissionError('txn', refusal, error)
        return {ok: false, errors}
      }
      throw error
    }
  }

  /**
   * Runs one request with its own papi context, which both cancels it (on close) and, with
   * `includeResponse`, hands back the HTTP response: headers for blocking indexes, bodies of
   * refused transactions. A blocking request gets `index` and `wait` and a longer deadline.
   */
  private async call<T>(
    name: string,
    request: (options: object) => Promise<unknown>,
    blocking?: {index: number; waitMs: number; signal?: AbortSignal},
  ): Promise<{response: ResponseLike; body: T}> {
    if (this.closed) throw new LignumError('UNAVAILABLE', `Consul client closed before ${name}`)
    if (blocking?.signal?.aborted) throw new LignumError('UNAVAILABLE', `${name} cancelled before it was sent`)
    const ctx = Object.assign(new EventEmitter(), {includeResponse: true})
    const forwardCancel = () => ctx.emit('cancel')
    this.cancel.once('cancel', forwardCancel)
    blocking?.signal?.addEventListener('abort', forwardCancel, {once: true})
    const options: Record<string, unknown> = {ctx, timeout: this.requestTimeoutMs}
    if (this.access.token !== undefined) options.token = this.access.token
    if (blocking) {
      options.timeout = blocking.waitMs + BLOCKING_DEADLINE_MARGIN_MS + this.requestTimeoutMs
      if (blocking.index > 0) Object.assign(options, {index: String(blocking.index), wait: `${blocking.waitMs}ms`})
    }
    try {
      const [response, body] = (await request(options)) as [ResponseLike, T]
      return {response, body}
    } catch (error) {
      const response = (error as ConsulError).response
      if (response?.statusCode === 403) throw this.permissionError(name, textOf(response.body), error)
      throw new LignumError('UNAVAILABLE', consulFailureMessage(this.consulUrl, name, error), {cause: error})
    } finally {
      this.cancel.removeListener('cancel', forwardCancel)
      blocking?.signal?.removeEventListener('abort', forwardCancel)
    }
  }

  /** The one line for an ACL refusal; the original error stays its cause (the response, for consulAnswered). */
  private permissionError(name: string, consulMessage: string, cause: unknown): LignumError {
    return new LignumError('CONSUL_PERMISSION_DENIED', permissionDeniedMessage(name, consulMessage, this.hasToken), {cause})
  }
}

/** One question to Consul's authorize endpoint: may this token `access` `resource` `segment`? */
export interface AuthorizationCheck {
  Resource: 'key' | 'service' | 'session' | 'node' | 'agent'
  Segment: string
  Access: 'read' | 'write'
}

interface RawKvEntry {
  Key: string
  Value: string | null | undefined
  ModifyIndex: number
  Session?: string
}

interface RawServiceEntry {
  Service: {ID: string; Address: string; Port: number; Meta: Record<string, string> | null}
  Checks: {Status: string}[]
}

interface RawTxnBody {
  Results?: {KV: {Key: string; ModifyIndex: number}}[] | null
  Errors?: {OpIndex: number; What: string}[] | null
}

/** What papi takes from a call's options: the context, deadline and token the other methods pass through. */
function requestOptionsOf(options: object): object {
  const {ctx, timeout, token} = options as {ctx?: unknown; timeout?: number; token?: string}
  return {ctx, timeout, ...(token === undefined ? {} : {headers: {'x-consul-token': token}})}
}

function textOf(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8').trim()
  return typeof body === 'string' ? body.trim() : JSON.stringify(body)
}

function permissionDeniedMessage(name: string, consulMessage: string, hasToken: boolean): string {
  const denial = permissionDenial(consulMessage)
  if (denial?.unknownToken) return `Consul does not know the ACL token (it answered "${consulMessage}" to ${name}); set consulToken, consulTokenFile or CONSUL_HTTP_TOKEN to a token it holds`
  const what = denial ? `${denial.resource} ${denial.access} on ${denial.segment}: the token lacks ${denial.rule}` : `${name}: ${consulMessage}`
  return `Consul refused ${what} (${name}); ${tokenFix(hasToken)}`
}

function toKvEntry(raw: RawKvEntry): KvEntry {
  return {
    key: raw.Key,
    value: raw.Value === null || raw.Value === undefined ? null : String(raw.Value),
    modifyIndex: raw.ModifyIndex,
    session: raw.Session,
  }
}

function consulIndexOf(response: ResponseLike): number {
  const index = Number(response.headers['x-consul-index'] ?? 0)
  return Number.isSafeInteger(index) && index > 0 ? index : 0
}

function defaultPort(url: URL): number {
  return url.protocol === 'https:' ? 8501 : 8500
}

export function parseConsulUrl(consulUrl: string): URL {
  let url: URL
  try {
    url = new URL(consulUrl.includes('://') ? consulUrl : `http://${consulUrl}`)
  } catch {
    throw new LignumError('CONFIG', `invalid consul address "${consulUrl}": expected a URL such as http://127.0.0.1:8500`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LignumError('CONFIG', `invalid consul address "${consulUrl}": use http:// or https://`)
  }
  return url
}
