/**
 * Every setting Lignum reads, in one table: its type, default, the environment variable that
 * overrides it and what it means. Loading (files, environment, flags) is in load.ts; this file
 * only says what a valid configuration is, so the error for a bad value can name the key and
 * what is allowed.
 */
import {LignumError} from '../errors.js'
import {SEGMENT_HANDLES_OPEN_MAX} from '../log/segment-handles.js'
import {splitMappingRules} from '../tls/principal-mapping.js'

export type FlushPolicySetting = 'always' | 'never' | number

export interface LignumConfig {
  dataDir: string
  nodeId: string | undefined
  host: string
  grpcPort: number
  httpPort: number
  kafkaPort: number | undefined
  kafkaAdvertiseAddress: string | undefined
  brokers: string
  autoCreateTopics: boolean
  defaultPartitions: number
  partitionsPerTopicMax: number
  topicsMax: number
  segmentHandlesOpenMax: number
  flushPolicy: FlushPolicySetting
  segmentBytes: number
  segmentMs: number
  retentionMs: number
  retentionBytes: number
  indexIntervalBytes: number
  batchBytesMax: number
  requestBytesMax: number
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  consul: string | undefined
  consulToken: string | undefined
  consulTokenFile: string | undefined
  consulCaFile: string | undefined
  consulCertFile: string | undefined
  consulKeyFile: string | undefined
  cluster: string
  advertiseAddress: string | undefined
  sessionTtlMs: number
  lockDelayMs: number
  replicaLagMaxMs: number
  tlsCertFile: string | undefined
  tlsKeyFile: string | undefined
  tlsCaFile: string | undefined
  tlsClientAuth: ClientAuthSetting
  tlsPrincipalMappingRules: string[]
  tlsCa: string | undefined
  tlsCert: string | undefined
  tlsKey: string | undefined
  httpTokensFile: string | undefined
  httpMetricsAccess: MetricsAccessSetting
  aclEnabled: boolean
  aclRulesFile: string | undefined
  aclSuperUsers: string[]
  aclStore: AclStoreSetting
}

/** Where authorization rules are kept: a file of the node's, or one Consul key the cluster shares. */
export type AclStoreSetting = 'file' | 'consul'

/** Whether a TLS listener asks clients for a certificate (Kafka's ssl.client.auth). */
export type ClientAuthSetting = 'none' | 'requested' | 'required'

/** Who may read /metrics: anyone, or a request with a principal (a client certificate or a bearer token). */
export type MetricsAccessSetting = 'open' | 'authenticated'

type Kind = 'string' | 'optional-string' | 'port' | 'optional-port' | 'count' | 'bytes' | 'ms' | 'limit' | 'boolean' | 'flush' | 'level' | 'client-auth' | 'metrics-access' | 'acl-store' | 'list' | 'mapping-rules'

interface Setting {
  kind: Kind
  default: unknown
  description: string
  /** A secret: shown as REDACTED by --print-config, never logged. */
  secret?: boolean
  /**
   * The variables another tool reads the same setting from (Consul's CLI: CONSUL_HTTP_TOKEN…),
   * honoured below LIGNUM_* so one environment serves both.
   */
  foreignEnvironment?: string[]
}

const MiB = 1024 * 1024
const DAY_MS = 24 * 60 * 60 * 1000

export const settings: Record<keyof LignumConfig, Setting> = {
  dataDir: {kind: 'string', default: './lignum-data', description: 'directory holding the partitions'},
  nodeId: {kind: 'optional-string', default: undefined, description: 'this node\'s id (default: kept in the data directory)'},
  host: {kind: 'string', default: '0.0.0.0', description: 'address the gRPC and HTTP servers listen on'},
  grpcPort: {kind: 'port', default: 50051, description: 'gRPC port'},
  httpPort: {kind: 'port', default: 8080, description: 'HTTP API port'},
  kafkaPort: {kind: 'optional-port', default: undefined, description: 'port of the Kafka-protocol listener, for Kafka\'s clients and tools (off when unset)'},
  kafkaAdvertiseAddress: {kind: 'optional-string', default: undefined, description: 'host:port Kafka clients reach this node\'s Kafka listener at (Metadata gives it out)'},
  brokers: {kind: 'string', default: 'localhost:50051', description: 'host:port[,host:port] a client bootstraps from'},
  autoCreateTopics: {kind: 'boolean', default: true, description: 'create a topic on its first produce'},
  defaultPartitions: {kind: 'count', default: 1, description: 'partitions of an auto-created topic'},
  // Each partition holds open files and timers; a typo such as 100000 should not exhaust them.
  partitionsPerTopicMax: {kind: 'count', default: 1024, description: 'most partitions one topic may have'},
  // Each topic holds open files (a partition's active segment and its indexes) and memory: a
  // flood of auto-created topics meets a clear error instead of the open-files limit (EMFILE).
  // 1,000 topics of a few partitions stay within a usual 4,096-descriptor limit with clients.
  topicsMax: {kind: 'count', default: 1000, description: 'most topics the node serves (internal ones aside)'},
  // Idle descriptors of closed segments kept open, across all partitions (the reason for the
  // default is beside it); active segments hold theirs outside it.
  segmentHandlesOpenMax: {kind: 'count', default: SEGMENT_HANDLES_OPEN_MAX, description: 'idle file handles of closed segments kept open'},
  flushPolicy: {kind: 'flush', default: 1000, description: '"always", "never", or fdatasync every N ms'},
  segmentBytes: {kind: 'bytes', default: 1024 * MiB, description: 'roll a segment past this size'},
  segmentMs: {kind: 'ms', default: 7 * DAY_MS, description: 'roll a segment older than this'},
  retentionMs: {kind: 'limit', default: 7 * DAY_MS, description: 'delete segments older than this (-1: keep)'},
  retentionBytes: {kind: 'limit', default: -1, description: 'delete old segments past this size (-1: no limit)'},
  indexIntervalBytes: {kind: 'bytes', default: 4096, description: 'bytes between offset index entries'},
  // Kafka's default message.max.bytes: a record batch bigger than this is refused whole.
  batchBytesMax: {kind: 'bytes', default: 1 * MiB, description: 'largest record batch accepted'},
  // Bounds the memory one request can pin in the server before it is validated.
  requestBytesMax: {kind: 'bytes', default: 64 * MiB, description: 'largest request accepted'},
  logLevel: {kind: 'level', default: 'info', description: 'debug, info, warn or error'},
  consul: {kind: 'optional-string', default: undefined, description: 'Consul HTTP address (http:// or https://); joins a cluster when set'},
  // The ACL token is the one secret a configuration may hold: --print-config shows REDACTED.
  consulToken: {kind: 'optional-string', default: undefined, secret: true, foreignEnvironment: ['CONSUL_HTTP_TOKEN'], description: 'Consul ACL token, sent as X-Consul-Token on every call'},
  consulTokenFile: {kind: 'optional-string', default: undefined, foreignEnvironment: ['CONSUL_HTTP_TOKEN_FILE'], description: 'file holding the Consul ACL token (used when consulToken is not set)'},
  consulCaFile: {kind: 'optional-string', default: undefined, foreignEnvironment: ['CONSUL_CACERT'], description: 'PEM CA to trust Consul\'s HTTPS certificate by'},
  consulCertFile: {kind: 'optional-string', default: undefined, foreignEnvironment: ['CONSUL_CLIENT_CERT'], description: 'PEM client certificate to present to Consul (verify_incoming)'},
  consulKeyFile: {kind: 'optional-string', default: undefined, foreignEnvironment: ['CONSUL_CLIENT_KEY'], description: 'PEM private key of consulCertFile'},
  cluster: {kind: 'string', default: 'lignum', description: 'cluster name (Consul KV prefix)'},
  advertiseAddress: {kind: 'optional-string', default: undefined, description: 'host:port other nodes and clients reach this node\'s gRPC at'},
  sessionTtlMs: {kind: 'ms', default: 10_000, description: 'Consul session TTL'},
  lockDelayMs: {kind: 'ms', default: 1000, description: 'Consul lock-delay after a session ends'},
  // Kafka's replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR.
  replicaLagMaxMs: {kind: 'ms', default: 10_000, description: 'cluster mode: a follower not caught up for this long leaves the ISR'},
  // Paths only: the configuration never holds key material, so printing it leaks nothing.
  tlsCertFile: {kind: 'optional-string', default: undefined, description: 'serve: PEM certificate (chain) of this node; turns TLS on for gRPC and HTTP'},
  tlsKeyFile: {kind: 'optional-string', default: undefined, description: 'serve: PEM private key of tlsCertFile'},
  tlsCaFile: {kind: 'optional-string', default: undefined, description: 'serve: PEM CA that signs client and node certificates'},
  tlsClientAuth: {kind: 'client-auth', default: 'none', description: 'serve: none, requested or required (mutual TLS) client certificates'},
  // Empty: DEFAULT, the CN, the principal before mapping rules existed. Checked at start (node.ts).
  tlsPrincipalMappingRules: {kind: 'mapping-rules', default: [], description: 'serve: Kafka\'s ssl.principal.mapping.rules (RULE:<regex>/<replacement>/[L|U], SAN:<DNS|URI|IP|EMAIL>:…, DEFAULT), comma-separated'},
  tlsCa: {kind: 'optional-string', default: undefined, description: 'client: PEM CA to trust the nodes\' certificates by; turns TLS on'},
  tlsCert: {kind: 'optional-string', default: undefined, description: 'client: PEM certificate to present to nodes (mutual TLS)'},
  tlsKey: {kind: 'optional-string', default: undefined, description: 'client: PEM private key of tlsCert'},
  // A path too: the file holds SHA-256 hashes of tokens, never a token.
  httpTokensFile: {kind: 'optional-string', default: undefined, description: 'serve: file of principal:sha256:<hash> lines; HTTP requests may then send Authorization: Bearer <token>'},
  httpMetricsAccess: {kind: 'metrics-access', default: 'open', description: 'serve: who may read /metrics: open or authenticated (a client certificate or a bearer token)'},
  // Off by default: a node without rules serves everyone, as before authorization existed.
  aclEnabled: {kind: 'boolean', default: false, description: 'serve: check every request against the authorization rules (deny when none matches)'},
  aclRulesFile: {kind: 'optional-string', default: undefined, description: 'serve: JSON file of authorization rules (acl.store file), reloaded on change'},
  aclSuperUsers: {kind: 'list', default: [], description: 'serve: principals allowed everything (comma-separated), e.g. the nodes\' own'},
  aclStore: {kind: 'acl-store', default: 'file', description: 'serve: file (acl.rulesFile) or consul (one key of the cluster, the same on every node)'},
}

/**
 * Settings a file may group in an object: `{"tls": {"certFile": …}}` is `tlsCertFile`,
 * `{"http": {"tokensFile": …}}` is `httpTokensFile`, `{"acl": {"enabled": …}}` is
 * `aclEnabled`. `consul`
 * is also a setting of its own (the address): `{"consul": "http://…"}` stays valid, and in the
 * group form the address is `consul.address`.
 */
export const SETTING_GROUPS = ['tls', 'consul', 'http', 'acl'] as const

/** Members of a group that name a setting other than group + Member. */
export const GROUP_ALIASES: Record<string, keyof LignumConfig> = {consulAddress: 'consul'}

/** The configuration as it may be shown: every secret replaced by REDACTED (or left undefined). */
export function redactSecrets(config: LignumConfig): LignumConfig {
  const shown: Record<string, unknown> = {...config}
  for (const [key, setting] of Object.entries(settings)) {
    if (setting.secret && shown[key] !== undefined) shown[key] = 'REDACTED'
  }
  return shown as unknown as LignumConfig
}

export function defaults(): LignumConfig {
  return Object.fromEntries(Object.entries(settings).map(([key, setting]) => [key, setting.default])) as unknown as LignumConfig
}

export function environmentName(key: string): string {
  return 'LIGNUM_' + key.replaceAll(/[A-Z]/g, (letter) => '_' + letter).toUpperCase()
}

/**
 * Turns a raw value (from a file, the environment or a flag) into the typed value of `key`, or
 * throws a CONFIG error naming the key, where it came from, and what is allowed.
 */
export function coerceSetting(key: string, raw: unknown, source: string): unknown {
  const setting = (settings as Record<string, Setting | undefined>)[key]
  if (!setting) {
    throw new LignumError('CONFIG', `unknown setting "${key}" in ${source}; known settings: ${Object.keys(settings).join(', ')}`)
  }
  const fail = (allowed: string): never => {
    const shown = setting.secret ? '(a secret, not shown)' : JSON.stringify(raw)
    throw new LignumError('CONFIG', `invalid ${key}=${shown} in ${source}: expected ${allowed}`)
  }
  switch (setting.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw.length === 0) fail('a non-empty string')
      return raw
    case 'optional-string':
      if (raw === undefined || raw === null || raw === '') return undefined
      if (typeof raw !== 'string') fail('a string')
      return raw
    case 'boolean':
      if (typeof raw === 'boolean') return raw
      if (raw === 'true' || raw === '1') return true
      if (raw === 'false' || raw === '0') return false
      return fail('true or false')
    case 'client-auth':
      if (raw === 'none' || raw === 'requested' || raw === 'required') return raw
      return fail('one of none, requested, required')
    case 'metrics-access':
      if (raw === 'open' || raw === 'authenticated') return raw
      return fail('one of open, authenticated')
    case 'acl-store':
      if (raw === 'file' || raw === 'consul') return raw
      return fail('one of file, consul')
    case 'list':
      return principalList(raw) ?? fail('a list of names (a YAML/JSON list, or comma-separated)')
    case 'mapping-rules':
      return mappingRuleList(raw) ?? fail('rules (a YAML/JSON list, or comma-separated) of DEFAULT, RULE:<regex>/<replacement>/[L|U] or SAN:<DNS|URI|IP|EMAIL>:<regex>/<replacement>/[L|U]')
    case 'level':
      if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw
      return fail('one of debug, info, warn, error')
    case 'flush':
      if (raw === 'always' || raw === 'never') return raw
      return integerIn(raw, 1, 24 * 60 * 60 * 1000) ?? fail('"always", "never" or a number of milliseconds from 1 to 86400000')
    case 'port':
      return integerIn(raw, 0, 65_535) ?? fail('a port number from 0 to 65535')
    case 'optional-port':
      if (raw === undefined || raw === null || raw === '') return undefined
      return integerIn(raw, 0, 65_535) ?? fail('a port number from 0 to 65535')
    case 'count':
      return integerIn(raw, 1, 1_000_000) ?? fail('a whole number from 1 to 1000000')
    case 'bytes':
      return integerIn(raw, 1, Number.MAX_SAFE_INTEGER) ?? fail('a positive whole number of bytes')
    case 'ms':
      return integerIn(raw, 1, Number.MAX_SAFE_INTEGER) ?? fail('a positive whole number of milliseconds')
    case 'limit':
      return integerIn(raw, -1, Number.MAX_SAFE_INTEGER) ?? fail('-1 (no limit) or a positive whole number')
  }
}

/** A list from a file (an array) or from the environment or a flag ("a,b"); empty entries dropped. */
function principalList(raw: unknown): string[] | undefined {
  const entries = typeof raw === 'string' ? raw.split(',') : raw
  if (!Array.isArray(entries) || !entries.every((entry) => typeof entry === 'string')) return undefined
  return entries.map((entry) => entry.trim()).filter((entry) => entry !== '')
}

/** Rules as written, split Kafka's way (a regex keeps its commas); checked when the node starts. */
function mappingRuleList(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return []
  const entries = typeof raw === 'string' ? [raw] : raw
  if (!Array.isArray(entries) || !entries.every((entry) => typeof entry === 'string')) return undefined
  return entries.flatMap(splitMappingRules)
}

function integerIn(raw: unknown, minimum: number, maximum: number): number | undefined {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) return undefined
  return value
}
