/**
 * A Lignum node: everything `lignum serve` runs, built in ordered steps (read the TLS files and
 * the HTTP tokens file, lock the data directory, open the broker, start gRPC, start HTTP, join the cluster) and stopped in reverse
 * by a shutdown that is safe to call twice: stop accepting, stop acting as leader, leave the
 * cluster and wait (bounded) for the controller to elect other leaders, let in-flight requests
 * finish, flush and close the logs, release the lock.
 */
import {Server, type ChannelCredentials} from '@grpc/grpc-js'
import type http from 'node:http'
import type https from 'node:https'
import type {ServerHttp2Session} from 'node:http2'
import type {ConsulAccess} from '../cluster/consul-access.js'
import {mkdir} from 'node:fs/promises'
import {Broker} from '../broker/broker.js'
import type {LignumConfig} from '../config/schema.js'
import {LignumError} from '../errors.js'
import {HealthService} from '../generated/grpc/health/v1/health.js'
import type {Logger} from '../logger.js'
import type {GroupMembershipView} from '../broker/group-membership-view.js'
import {lockDataDir, type DataDirLock} from './data-dir-lock.js'
import {setSegmentHandlesOpenMax} from '../log/segment-handles.js'
import {installGrpcFraming} from '../wire/grpc-framing.js'
import {createHealthService} from './health-service.js'
import {startKafkaListener, type KafkaServing} from '../kafka/kafka-serving.js'
import {createHttpServer} from './http-api.js'
import {httpAccessOf, type HttpAccess} from './http-access.js'
import type {TokenFileWatch} from '../tokens/token-file-watch.js'
import {Metrics} from './metrics.js'
import {resolveNodeId} from './node-identity.js'
import {refuseUnparseableRequests, withUnparseableRequestsMarked} from './request-parsing.js'
import type {ClusterStatusView, ServingContext} from './serving-context.js'
import {createLignumService, lignumServiceDefinition} from './grpc-service.js'
import {createReplicationService, replicationServiceDefinition} from './replication-service.js'
import type {ClusterReplication} from './cluster-replication.js'
import {initialReplicaHealth} from './replica-verification.js'
import {partitionId} from '../cluster/replica-health.js'
import {logPrincipals} from './principal.js'
import type {AccessControl} from '../acl/access-control.js'
import {grpcServerCredentialsOf, http2ServersOf, httpsOptionsOf, listenerTlsOf, peerChannelCredentialsOf, refuseUntrustedCertificates, secureContextOf, type ListenerTls} from './tls-listeners.js'

// In-flight requests get this long to finish at shutdown before connections are cut.
const SHUTDOWN_GRACE_MS = 10_000
// A controlled shutdown waits at most this long for the controller to move its leaderships
// before draining: no longer than the drain used to keep a leaving node in the cluster.
const LEADERSHIP_HANDOFF_MAX_MS = SHUTDOWN_GRACE_MS
// Per-stream and per-connection HTTP/2 receive window: several produce batches in flight.
const RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024
// gRPC messages above this are refused by the transport before reaching a handler.
const GRPC_MESSAGE_BYTES_HEADROOM = 1024 * 1024
// A producer id block reservation is two Consul calls at start-up of a producer: a Consul that
// does not answer in this long fails the producer's InitProducerId, which it retries.
const PRODUCER_ID_CONSUL_TIMEOUT_MS = 5_000
// Reading or changing the rules in Consul: a Consul that does not answer in this long fails the start or the `lignum acl` call.
const ACL_CONSUL_TIMEOUT_MS = 5_000

/** The part of a cluster membership the node uses (src/cluster implements it). */
interface ClusterMembership {
  view(): Omit<ClusterStatusView, 'mode'>
  ready(): boolean
  /** Ends this node's part in the cluster (roles, session, registration), keeping the Consul link. */
  leave(): Promise<void>
  stop(): Promise<void>
}

export interface NodeAddresses {
  grpcPort: number
  httpPort: number
  /** 0 when the Kafka listener is off. */
  kafkaPort: number
}

export class LignumNode {
  private grpcServer: Server | undefined
  private httpServer: http.Server | https.Server | undefined
  private kafkaListener: KafkaServing | undefined
  private kafkaAddress: string | undefined
  private tls: ListenerTls | undefined
  private httpAccess: HttpAccess | undefined
  private tokenFileWatch: TokenFileWatch | undefined
  /** The node's own channels to other nodes: TLS with its certificate when its listeners use TLS. */
  private peerCredentials: ChannelCredentials | undefined
  private cluster: ClusterMembership | undefined
  private replication: ClusterReplication | undefined
  private producerIdConsul: {close(): void} | undefined
  private consulAccess: ConsulAccess | undefined
  private access: AccessControl | undefined
  private aclConsul: {close(): void} | undefined
  private broker: Broker | undefined
  private lock: DataDirLock | undefined
  private accepting = false
  private context: ServingContext | undefined
  private stopping: Promise<void> | undefined
  private readonly shutdown = new AbortController()
  nodeId = ''
  addresses: NodeAddresses = {grpcPort: 0, httpPort: 0, kafkaPort: 0}

  private constructor(
    readonly config: LignumConfig,
    readonly version: string,
    private readonly logger: Logger,
  ) {}

  static async start(config: LignumConfig, version: string, logger: Logger): Promise<LignumNode> {
    const node = new LignumNode(config, version, logger)
    try {
      await node.startSteps()
    } catch (error) {
      await node.stop()
      throw error
    }
    return node
  }

  private async startSteps(): Promise<void> {
    const {config} = this
    // First: a bad certificate file stops the start with nothing to undo.
    this.tls = await listenerTlsOf(config, this.logger)
    this.peerCredentials = peerChannelCredentialsOf(this.tls)
    const {access, watch} = await httpAccessOf(config, this.logger)
    this.httpAccess = {...access, principalMapping: this.tls?.principalMapping}
    this.tokenFileWatch = watch
    // Then Consul's TLS and ACL token: a refusal stops the start before the data directory is touched.
    if (config.consul) this.consulAccess = await this.checkConsul(config.consul)
    await mkdir(config.dataDir, {recursive: true}).catch((error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EEXIST' || error.code === 'ENOTDIR' ? 'it (or a folder above it) is a file' : error.code === 'EACCES' ? 'permission denied' : (error.code ?? error.message)
      throw new LignumError('DATA_DIR', `cannot use ${config.dataDir} as the data directory: ${reason}`, {hint: 'choose a writable --data-dir'})
    })
    this.lock = await lockDataDir(config.dataDir)
    this.nodeId = await resolveNodeId(config.dataDir, config.nodeId)
    // Before any listener: a node never serves a request unchecked while its rules load.
    this.access = await this.startAccessControl()
    setSegmentHandlesOpenMax(config.segmentHandlesOpenMax)
    this.broker = await Broker.open(config.dataDir, brokerConfigOf(config), this.logger)
    const metrics = new Metrics(this.broker)
    const context = this.servingContext(this.broker, metrics)
    this.context = context
    this.addresses.grpcPort = await this.startGrpc(context)
    this.addresses.httpPort = await this.startHttp(context)
    // Before joining: the registration carries the Kafka listener's address; until the node is
    // ready the listener closes every connection it accepts (kafka-serving.ts).
    if (config.kafkaPort !== undefined) this.addresses.kafkaPort = await this.startKafka(context)
    if (config.consul) {
      const member = await this.joinCluster(config.consul)
      this.cluster = member
      this.replication = await this.startReplication(member, this.broker)
      context.clusterTopics = this.replication
      context.clusterOffsets = this.replication
      context.clusterGroups = this.replication.groups
      context.groupMembership = this.replication.groups
      context.producerIds = await this.producerIdBlocks(config.consul)
    }
    this.accepting = true
    this.logger.info('node started', {nodeId: this.nodeId, dataDir: config.dataDir, grpc: `${config.host}:${this.addresses.grpcPort}`, http: `${config.host}:${this.addresses.httpPort}`, kafka: this.addresses.kafkaPort ? `${config.host}:${this.addresses.kafkaPort}` : 'off', mode: this.cluster ? 'cluster' : 'standalone', tls: this.tls?.clientAuth ?? 'off', httpTokens: this.tokenFileWatch?.size ?? 'off', metricsAccess: this.config.httpMetricsAccess, acl: this.access ? this.access.where : 'off'})
  }

  /** The live membership of the groups this node coordinates (GroupMembershipView): what `lignum groups describe` reads. */
  get groupMembership(): GroupMembershipView | undefined {
    return this.context?.groupMembership
  }

  get advertisedAddress(): string {
    return this.config.advertiseAddress ?? `${this.config.host === '0.0.0.0' ? '127.0.0.1' : this.config.host}:${this.addresses.grpcPort}`
  }

  private servingContext(broker: Broker, metrics: Metrics): ServingContext {
    const node = this
    return {
      broker,
      metrics,
      logger: this.logger,
      nodeId: this.nodeId,
      version: this.version,
      requestBytesMax: this.config.requestBytesMax,
      shutdownSignal: this.shutdown.signal,
      peerCredentials: this.peerCredentials,
      access: this.access,
      principalMapping: this.tls?.principalMapping,
      get advertisedAddress() {
        return node.advertisedAddress
      },
      groupMembership: broker.groupMemberships,
      clusterView: () => this.clusterView(),
      ready: () => this.accepting && (this.cluster?.ready() ?? true),
    }
  }

  clusterView(): ClusterStatusView {
    if (this.cluster) return {mode: 'cluster', ...this.cluster.view()}
    return {
      mode: 'standalone',
      cluster: 'standalone',
      controller: this.nodeId,
      controllerEpoch: 0,
      consulReachable: false,
      // A standalone node runs no background verification: reads check what they return.
      nodes: [{id: this.nodeId, address: this.advertisedAddress, status: 'up', version: this.version, damagedReplicas: this.damagedReplicaIds(), ...(this.kafkaAddress ? {kafkaAddress: this.kafkaAddress} : {})}],
    }
  }

  private damagedReplicaIds(): string[] {
    return (this.broker?.damagedPartitions() ?? []).map((held) => partitionId(held.topic, held.partition))
  }

  private async startGrpc(context: ServingContext): Promise<number> {
    installGrpcFraming(this.logger)
    const server = new Server({
      'grpc.max_receive_message_length': this.config.requestBytesMax,
      'grpc.max_send_message_length': this.config.requestBytesMax + GRPC_MESSAGE_BYTES_HEADROOM,
      interceptors: [refuseUnparseableRequests, logPrincipals(this.logger, this.tls?.principalMapping)],
    })
    server.addService(withUnparseableRequestsMarked(lignumServiceDefinition), createLignumService(context))
    server.addService(withUnparseableRequestsMarked(replicationServiceDefinition), createReplicationService(context))
    server.addService(withUnparseableRequestsMarked(HealthService), createHealthService(() => context.ready(), [serviceNameOf(lignumServiceDefinition)]))
    this.grpcServer = server
    return new Promise((resolve, reject) => {
      server.bindAsync(`${this.config.host}:${this.config.grpcPort}`, grpcServerCredentialsOf(this.tls), (error, port) => {
        if (error) reject(listenError('gRPC', this.config.host, this.config.grpcPort, '--grpc-port', error))
        else {
          if (this.tls?.clientAuth === 'requested') for (const http2Server of http2ServersOf(server)) refuseUntrustedCertificates(http2Server, this.logger)
          if (!widenReceiveWindows(server)) this.logger.warn('cannot widen the HTTP/2 receive window (grpc-js internals changed); large produce batches will be slower')
          resolve(port)
        }
      })
    })
  }

  private async startHttp(context: ServingContext): Promise<number> {
    const tls = this.tls
    const server = createHttpServer(context, tls && httpsOptionsOf(tls), this.httpAccess)
    this.httpServer = server
    if (tls) {
      tls.watch.onChange((material) => (server as https.Server).setSecureContext(secureContextOf(material)))
      if (tls.clientAuth === 'requested') refuseUntrustedCertificates(server as https.Server, this.logger)
    }
    return new Promise((resolve, reject) => {
      server.once('error', (error) => reject(listenError('HTTP', this.config.host, this.config.httpPort, '--http-port', error)))
      server.listen(this.config.httpPort, this.config.host, () => {
        const address = server.address()
        resolve(typeof address === 'object' && address ? address.port : this.config.httpPort)
      })
    })
  }

  /** The Kafka-protocol listener (kafka/), on the same broker and catalog as gRPC. */
  private async startKafka(context: ServingContext): Promise<number> {
    const host = this.config.host
    const port = this.config.kafkaPort ?? 0
    try {
      const listener = await startKafkaListener({context, host, port, advertiseAddress: this.config.kafkaAdvertiseAddress, requestBytesMax: this.config.requestBytesMax, logger: this.logger.child({component: 'kafka'}), tls: this.tls})
      this.kafkaListener = listener
      this.kafkaAddress = listener.advertisedAddress
      return listener.port
    } catch (error) {
      if (error instanceof LignumError) throw error
      throw listenError('Kafka', host, port, '--kafka-port', error as Error)
    }
  }

  /** Cluster mode: this node's replicas follow the catalog in Consul. */
  private async startReplication(member: import('../cluster/cluster-member.js').ClusterMember, broker: Broker): Promise<ClusterReplication> {
    const {ClusterReplication} = await import('./cluster-replication.js')
    const replication = new ClusterReplication({member, broker, peerCredentials: this.peerCredentials, nodeId: this.nodeId, logger: this.logger.child({component: 'replication'}), replicaLagMaxMs: this.config.replicaLagMaxMs, defaultPartitions: this.config.defaultPartitions})
    replication.start()
    return replication
  }

  private async checkConsul(consulUrl: string) {
    const [{consulAccessOf}, {checkConsulAccess}] = await Promise.all([import('../cluster/consul-access.js'), import('../cluster/consul-access-check.js')])
    const access = await consulAccessOf(this.config)
    await checkConsulAccess({consulUrl, access, cluster: this.config.cluster, logger: this.logger})
    return access
  }

  /** Cluster mode: producer ids come from blocks this node reserves in Consul, so no two nodes hand out the same one. */
  private async producerIdBlocks(consulUrl: string) {
    const [{ConsulApi}, {ClusterKeys}, {ProducerIdBlocks, producerIdBlockKey}] = await Promise.all([import('../cluster/consul-api.js'), import('../cluster/cluster-keys.js'), import('../cluster/producer-id-blocks.js')])
    const api = new ConsulApi(consulUrl, PRODUCER_ID_CONSUL_TIMEOUT_MS, this.consulAccess)
    this.producerIdConsul = api
    return new ProducerIdBlocks(api, producerIdBlockKey(new ClusterKeys(this.config.cluster)))
  }

  /** acl.enabled: the rule store the configuration names, read once before serving (a bad store stops the start). */
  private async startAccessControl(): Promise<AccessControl | undefined> {
    const {aclEnabled, aclStore, aclRulesFile, aclSuperUsers} = this.config
    if (!aclEnabled) {
      if (aclRulesFile !== undefined || aclStore !== 'file' || aclSuperUsers.length > 0) throw new LignumError('CONFIG', 'acl.rulesFile, acl.store and acl.superUsers need authorization on', {hint: 'set acl.enabled true (--acl-enabled) too'})
      return undefined
    }
    const logger = this.logger.child({component: 'acl'})
    const {AccessControl} = await import('../acl/access-control.js')
    return AccessControl.start(await this.aclRuleStore(logger), aclSuperUsers, logger)
  }

  private async aclRuleStore(logger: Logger) {
    const {aclStore, aclRulesFile, consul, cluster} = this.config
    if (aclStore === 'consul') {
      if (consul === undefined) throw new LignumError('CONFIG', 'acl.store consul keeps the rules in the cluster\'s Consul', {hint: 'set consul (--consul) too, or use acl.store file with acl.rulesFile'})
      const [{ConsulApi}, {ClusterKeys}, {ConsulRuleStore}] = await Promise.all([import('../cluster/consul-api.js'), import('../cluster/cluster-keys.js'), import('../acl/consul-rule-store.js')])
      const api = new ConsulApi(consul, ACL_CONSUL_TIMEOUT_MS)
      this.aclConsul = api
      return new ConsulRuleStore(api, new ClusterKeys(cluster).aclRules, logger)
    }
    if (aclRulesFile === undefined) throw new LignumError('CONFIG', 'acl.enabled with acl.store file needs acl.rulesFile: the JSON file the rules are kept in (it may not exist yet)', {hint: 'set it (--acl-rules-file)'})
    const {FileRuleStore} = await import('../acl/file-rule-store.js')
    return new FileRuleStore(aclRulesFile, logger)
  }

  private async joinCluster(consulUrl: string) {
    const {ClusterMember} = await import('../cluster/cluster-member.js')
    return ClusterMember.start({
      consulUrl,
      consulAccess: this.consulAccess,
      cluster: this.config.cluster,
      nodeId: this.nodeId,
      advertiseAddress: this.advertisedAddress,
      kafkaAddress: this.kafkaAddress,
      version: this.version,
      sessionTtlMs: this.config.sessionTtlMs,
      lockDelayMs: this.config.lockDelayMs,
      logger: this.logger.child({component: 'cluster'}),
      // Known before it registers, so the controller never takes an unverified replica for a verified one.
      replicaHealth: this.broker ? initialReplicaHealth(this.broker) : undefined,
    })
  }

  /** Stops in reverse order of start; safe to call more than once and after a failed start. */
  stop(): Promise<void> {
    this.stopping ??= this.stopSteps()
    return this.stopping
  }

  private async stopSteps(): Promise<void> {
    this.accepting = false
    this.shutdown.abort()
    // Before the servers close: followers that can no longer fetch must not be shrunk away.
    this.replication?.beginShutdown()
    await this.handOffLeadership()
    await Promise.all([this.closeHttp(), this.closeGrpc(), this.kafkaListener?.stop()])
    await this.replication?.stop().catch((error) => this.logger.error('stopping replication failed', {error}))
    await this.cluster?.stop().catch((error) => this.logger.error('leaving the cluster failed', {error}))
    this.producerIdConsul?.close()
    await this.access?.stop().catch((error) => this.logger.error('stopping the authorization rules failed', {error}))
    this.aclConsul?.close()
    await this.broker?.close()
    this.tls?.watch.stop()
    this.tokenFileWatch?.stop()
    await this.lock?.release()
    if (this.nodeId) this.logger.info('node stopped', {nodeId: this.nodeId})
  }

  /**
   * Cluster mode's controlled shutdown: leave the cluster first, so the controller elects other
   * leaders for this node's partitions while it drains, and wait (bounded) until it has; the
   * drain then holds no partition without a leader. The node stopped acting as leader already
   * (beginShutdown), so nothing it acknowledged is missing from the in-sync replicas.
   */
  private async handOffLeadership(): Promise<void> {
    if (!this.cluster || !this.replication) return
    await this.cluster.leave().catch((error) => this.logger.error('leaving the cluster failed', {error}))
    await this.replication.leadershipHandedOff(LEADERSHIP_HANDOFF_MAX_MS)
  }

  private closeHttp(): Promise<void> {
    const server = this.httpServer
    if (!server?.listening) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
      server.close(() => {
        clearTimeout(timer)
        resolve()
      })
      server.closeIdleConnections()
    })
  }

  private closeGrpc(): Promise<void> {
    const server = this.grpcServer
    if (!server) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS)
      server.tryShutdown(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/**
 * HTTP/2 lets a receiver accept only 64 KiB per stream and connection before the sender must
 * wait for a window update; a 256 KiB produce batch then needs several round trips. grpc-js
 * offers no server option for it (its clients have 'grpc-node.flow_control_window'), so the
 * window is widened on each new session of its HTTP/2 servers. Returns false if grpc-js's
 * internal map of servers is not where it was (then produce works, only slower).
 */
function widenReceiveWindows(server: Server): boolean {
  const http2Servers = http2ServersOf(server)
  if (http2Servers.length === 0) return false
  for (const http2Server of http2Servers) {
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.setLocalWindowSize(RECEIVE_WINDOW_BYTES)
      session.settings({initialWindowSize: RECEIVE_WINDOW_BYTES})
    })
  }
  return true
}

/** The full name of a service ("lignum.v1.Lignum"), as health checks ask for it: its methods' paths start with it. */
function serviceNameOf(definition: Record<string, {path: string}>): string {
  const [method] = Object.values(definition)
  return method.path.split('/')[1]
}

function brokerConfigOf(config: LignumConfig) {
  return {
    autoCreateTopics: config.autoCreateTopics,
    defaultPartitions: config.defaultPartitions,
    partitionsPerTopicMax: config.partitionsPerTopicMax,
    topicsMax: config.topicsMax,
    batchBytesMax: config.batchBytesMax,
    partitionsFollowUntilAssigned: config.consul !== undefined,
    logDefaults: {
      segmentBytes: config.segmentBytes,
      segmentMs: config.segmentMs,
      retentionMs: config.retentionMs,
      retentionBytes: config.retentionBytes,
      indexIntervalBytes: config.indexIntervalBytes,
      flushPolicy: typeof config.flushPolicy === 'number' ? {intervalMs: config.flushPolicy} : config.flushPolicy,
    },
  }
}

function listenError(what: string, host: string, port: number, flag: string, error: Error): LignumError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL|cannot assign requested address/i.test(error.message)) {
    return new LignumError('UNAVAILABLE', `cannot listen for ${what} on ${host}:${port}: ${host} is not an address of this machine`, {cause: error, hint: 'choose one of its addresses with --host (or 0.0.0.0 for all)'})
  }
  // EACCES is not "busy": the system refuses this user the port (below 1024 without privileges).
  if (code === 'EACCES' || /EACCES|permission denied/i.test(error.message)) {
    return new LignumError('CONFIG', `cannot listen for ${what} on ${host}:${port}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); choose a port above 1023 with ${flag}`, {cause: error})
  }
  const reason = code === 'EADDRINUSE' || /address already in use/i.test(error.message) ? 'the port is already in use' : error.message
  return new LignumError('UNAVAILABLE', `cannot listen for ${what} on ${host}:${port}: ${reason}; stop what uses it or choose another ${flag}`, {cause: error})
}
