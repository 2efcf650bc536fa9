/**
 * The cluster's one topic catalog, in Consul KV: a record per topic (`topics/<t>`) and a
 * state per partition (`partitions/<t>/<p>`), see catalog-records.ts and cluster-keys.ts.
 *
 * Who writes what:
 * - the controller creates and deletes topics, every write fenced by its lock and checked
 *   and set (writeAsController's rules), and refuses to overwrite a record a newer
 *   controller epoch wrote (it is a deposed controller that has not noticed yet);
 * - a partition's leader changes its ISR (writeIsr, Kafka's AlterPartition): check-and-set on
 *   the partition key, refused when its leader epoch or the partition epoch it read is stale;
 *   it records the incarnation of each member it adds (isr-incarnations.ts), never another
 *   for a member that stays, so the controller can tell a member that restarted since it joined.
 *
 * Readers refuse a topic record written under an older controller epoch than one they have
 * read for that topic (EpochGuard, as partition-watch.ts does for partition states): a deposed
 * controller or a Consul restored from an old snapshot cannot take a topic's settings back.
 * The node keeps the record it accepted and warns.
 *
 * Invariant for readers: a topic key exists only while all its partition keys do. Creation
 * writes the partitions first, in transactions of at most Consul's 64 operations, and the
 * topic key last; deletion removes the topic key first. Partition keys left by a creation that
 * died halfway (or a deletion that did) belong to no topic and are overwritten by the next
 * creation of that name.
 */
import {LignumError} from '../errors.js'
import type {Logger} from '../logger.js'
import {validateTopicName} from '../log/topic-name.js'
import {
  CATALOG_RECORD_VERSION,
  parsePartitionState,
  parseTopicRecord,
  type PartitionState,
  type StoredPartitionState,
  type TopicRecord,
} from './catalog-records.js'
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi, KvEntry, TxnKvOperation} from './consul-api.js'
import type {ControllerTerm} from './controller-duties.js'
import {
  casOperation,
  deleteCasOperation,
  deleteTreeOperation,
  EpochGuard,
  parseJson,
  transactAsController,
  TXN_OPERATIONS_MAX,
} from './controller-state.js'
import {incarnationsAfterIsrChange, incarnationsOfIsr, type IsrIncarnations} from './isr-incarnations.js'
import {assignReplicas, defaultReplication, randomStart, validateReplication, type AssignmentStart} from './replica-assignment.js'

/** What the controller may change in a partition's state. */
export type ControllerPartitionChange = Pick<PartitionState, 'replicas' | 'leader' | 'leaderEpoch' | 'isr' | 'leaderIncarnation' | 'isrIncarnations'>

export type {PartitionState, StoredPartitionState, TopicRecord}

// Two operations of every controller transaction are its checks (lock, epoch); the rest carry writes.
const WRITES_PER_TRANSACTION = TXN_OPERATIONS_MAX - 2

export interface NewTopic {
  name: string
  partitions: number
  /** Omitted: the cluster default, min(3, live nodes). */
  replicationFactor?: number
  /** Omitted: min(2, replication factor). */
  minInsyncReplicas?: number
  settings?: Record<string, string>
}

export interface TopicDescription {
  topic: TopicRecord
  /** Sorted by partition; a partition whose state cannot be read is missing (and logged). */
  partitions: StoredPartitionState[]
}

export interface IsrChange {
  isr: string[]
  /** The leader epoch the writer leads under. */
  leaderEpoch: number
  /** The partition epoch of the state the change is based on. */
  expectedPartitionEpoch: number
  /** For members the change adds: the incarnation whose fetches caught each up (isr-incarnations.ts). */
  addedIncarnations?: IsrIncarnations
}

export type IsrWriteResult =
  | {ok: true; state: StoredPartitionState}
  | {ok: false; reason: 'unknown-partition' | 'fenced-leader-epoch' | 'stale-partition-epoch' | 'concurrent-change'; current?: StoredPartitionState}

export class TopicCatalog {
  /** Per topic, the highest controller epoch of a record read, and the record read under it. */
  private readonly topicGuards = new Map<string, {guard: EpochGuard; accepted: TopicRecord}>()

  constructor(
    private readonly api: ConsulApi,
    private readonly keys: ClusterKeys,
    private readonly logger: Logger,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Creates a topic over `liveNodes` (the registered nodes that are up). ALREADY_EXISTS if the
   * name is taken; NOT_CONTROLLER if Consul refused a write because `term` lost the lock.
   */
  async createTopic(term: ControllerTerm, request: NewTopic, liveNodes: readonly string[], start?: AssignmentStart, incarnations: ReadonlyMap<string, string> = new Map()): Promise<TopicDescription> {
    validateTopicName(request.name)
    const nodes = [...new Set(liveNodes)]
    const defaults = defaultReplication(nodes.length)
    const replicationFactor = request.replicationFactor ?? defaults.replicationFactor
    const settings = {
      partitions: request.partitions,
      replicationFactor,
      minInsyncReplicas: request.minInsyncReplicas ?? Math.min(defaults.minInsyncReplicas, replicationFactor),
    }
    validateReplication(settings, nodes.length)
    const topicKey = this.keys.topic(request.name)
    if (await this.api.kvGet(topicKey)) throw alreadyExists(request.name)

    const leftovers = await this.api.kvTree(this.keys.partitionsPrefix(request.name), 0, 0)
    refuseNewerEpochs(term, leftovers.data, `partitions of topic ${request.name}`)
    const topic: TopicRecord = {
      version: CATALOG_RECORD_VERSION,
      name: request.name,
      ...settings,
      settings: request.settings ?? {},
      createdAtMs: this.nowMs(),
      epoch: term.epoch,
    }
    // Encoded first: a record Consul would refuse is refused before any partition is written.
    const topicWrite = casOperation(topicKey, topic, 0)
    const assignment = assignReplicas({...settings, nodes, start: start ?? randomStart(nodes.length)})
    const states = assignment.map((replicas, partition) => ({partition, state: initialState(replicas, term.epoch, incarnations)}))
    for (const chunk of chunked(this.partitionWrites(request.name, states, leftovers.data), WRITES_PER_TRANSACTION)) {
      if (!(await transactAsController(this.api, this.keys, term, chunk))) {
        throw notController(term, `writing the partitions of topic ${request.name}`)
      }
    }
    if (!(await transactAsController(this.api, this.keys, term, [topicWrite]))) {
      if (await this.api.kvGet(topicKey)) throw alreadyExists(request.name)
      throw notController(term, `writing topic ${request.name}`)
    }
    const described = await this.describeTopic(request.name)
    if (!described) throw new LignumError('UNAVAILABLE', `topic ${request.name} was created but was deleted before it could be read back`)
    return described
  }

  /** Deletes a topic: its key first (readers stop seeing it), then its partition states. */
  async deleteTopic(term: ControllerTerm, name: string): Promise<void> {
    const topicKey = this.keys.topic(name)
    const entry = await this.api.kvGet(topicKey)
    if (!entry) throw unknownTopic(name)
    refuseNewerEpochs(term, [entry], `topic ${name}`)
    if (!(await transactAsController(this.api, this.keys, term, [deleteCasOperation(topicKey, entry.modifyIndex)]))) {
      if (!(await this.api.kvGet(topicKey))) throw unknownTopic(name)
      throw notController(term, `deleting topic ${name}`)
    }
    if (!(await transactAsController(this.api, this.keys, term, [deleteTreeOperation(this.keys.partitionsPrefix(name))]))) {
      // The topic is gone for every reader; its orphaned partition states are overwritten by
      // the next creation of the name.
      this.logger.warn('topic deleted but its partition states were left behind: the controller lock was lost', {topic: name})
    }
  }

  /** Every readable topic record, by name. */
  async listTopics(): Promise<TopicRecord[]> {
    const {data} = await this.api.kvTree(this.keys.topicsPrefix, 0, 0)
    const topics: TopicRecord[] = []
    for (const entry of data) {
      const record = this.readTopicEntry(entry)
      if (record) topics.push(record)
    }
    return topics.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0))
  }

  /** One topic's record, or undefined when there is no such topic. */
  async readTopic(name: string): Promise<TopicRecord | undefined> {
    const entry = await this.api.kvGet(this.keys.topic(name))
    return entry ? this.readTopicEntry(entry) : undefined
  }

  /**
   * Every topic with its partition states, in two reads (the records, then all partition
   * states) however many topics there are. A topic whose states are not all there (created or
   * deleted between the two reads) is left out, as describeTopic would.
   */
  async describeTopics(): Promise<TopicDescription[]> {
    const topics = await this.listTopics()
    const {data} = await this.api.kvTree(this.keys.partitionsRootPrefix, 0, 0)
    const described: TopicDescription[] = []
    for (const topic of topics) {
      const prefix = this.keys.partitionsPrefix(topic.name)
      const partitions = this.readPartitionEntries(topic.name, data.filter((entry) => entry.key.startsWith(prefix))).filter((stored) => stored.partition < topic.partitions)
      if (partitions.length === topic.partitions) described.push({topic, partitions})
    }
    return described
  }

  /** A topic and its partition states, or undefined when there is no such topic. */
  async describeTopic(name: string): Promise<TopicDescription | undefined> {
    const topicKey = this.keys.topic(name)
    const entry = await this.api.kvGet(topicKey)
    const topic = entry && this.readTopicEntry(entry)
    if (!topic) return undefined
    const {data} = await this.api.kvTree(this.keys.partitionsPrefix(name), 0, 0)
    const partitions = this.readPartitionEntries(name, data).filter((stored) => stored.partition < topic.partitions)
    // Fewer partitions than the record says: deleted meanwhile, unless the topic key is still there.
    if (partitions.length < topic.partitions && !(await this.api.kvGet(topicKey))) return undefined
    return {topic, partitions}
  }

  /**
   * Every topic with its partition states, in two reads whatever their number (a status view
   * wants the whole catalog at once). Topics first: a topic key exists only while all its
   * partition keys do, so a topic found with fewer partitions was deleted in between and is left out.
   */
  async describeAllTopics(): Promise<TopicDescription[]> {
    const topics = await this.listTopics()
    if (topics.length === 0) return []
    const root = `${this.keys.prefix}partitions/`
    const {data} = await this.api.kvTree(root, 0, 0)
    const entriesByTopic = new Map<string, KvEntry[]>()
    for (const entry of data) {
      const encoded = entry.key.slice(root.length).split('/')[0] ?? ''
      let topic: string
      try {
        topic = decodeURIComponent(encoded)
      } catch {
        continue
      }
      const entries = entriesByTopic.get(topic)
      if (entries) entries.push(entry)
      else entriesByTopic.set(topic, [entry])
    }
    const described: TopicDescription[] = []
    for (const topic of topics) {
      const partitions = this.readPartitionEntries(topic.name, entriesByTopic.get(topic.name) ?? []).filter((stored) => stored.partition < topic.partitions)
      if (partitions.length === topic.partitions) described.push({topic, partitions})
    }
    return described
  }

  async readPartitionState(topic: string, partition: number): Promise<StoredPartitionState | undefined> {
    const entry = await this.api.kvGet(this.keys.partition(topic, partition))
    return entry ? this.readPartitionEntries(topic, [entry])[0] : undefined
  }

  /**
   * The controller's change of a partition (a new leader, a new leader epoch, replicas, ISR),
   * based on `current` as read: fenced like every controller write and checked and set on
   * the ModifyIndex read, stamped with the term's epoch and the next partition epoch. False
   * when Consul refused it: re-read and decide again.
   */
  async writePartitionAsController(
    term: ControllerTerm,
    current: StoredPartitionState,
    next: ControllerPartitionChange,
  ): Promise<StoredPartitionState | undefined> {
    const {topic, partition} = current
    if (current.state.epoch > term.epoch) {
      throw new LignumError(
        'STALE_CONTROLLER_EPOCH',
        `refusing to write partition ${topic}-${partition} under controller epoch ${term.epoch}: epoch ${current.state.epoch} has written it, this node is no longer the controller`,
      )
    }
    const state = controllerPartitionState(term, current.state, next)
    const key = this.keys.partition(topic, partition)
    if (!(await transactAsController(this.api, this.keys, term, [casOperation(key, state, current.modifyIndex)]))) return undefined
    return this.readPartitionState(topic, partition)
  }

  /**
   * A leader's ISR change (Kafka's AlterPartition). Written only if the stored state still has
   * the writer's leader epoch and the partition epoch it read, with check-and-set on the key,
   * so a deposed leader or a change based on an old read never lands. The leader acts on the
   * new ISR only once this resolves ok.
   */
  async writeIsr(topic: string, partition: number, change: IsrChange): Promise<IsrWriteResult> {
    const current = await this.readPartitionState(topic, partition)
    if (!current) return {ok: false, reason: 'unknown-partition'}
    if (current.state.leaderEpoch !== change.leaderEpoch) return {ok: false, reason: 'fenced-leader-epoch', current}
    if (current.state.partitionEpoch !== change.expectedPartitionEpoch) return {ok: false, reason: 'stale-partition-epoch', current}
    validateIsr(topic, partition, change.isr, current.state)
    const {isrIncarnations: _before, ...rest} = current.state
    const state: PartitionState = {...rest, isr: [...change.isr], partitionEpoch: current.state.partitionEpoch + 1, ...withIsrIncarnations(incarnationsAfterIsrChange(current.state, change.isr, change.addedIncarnations))}
    const key = this.keys.partition(topic, partition)
    const result = await this.api.transaction([casOperation(key, state, current.modifyIndex)])
    if (!result.ok) return {ok: false, reason: 'concurrent-change'}
    const modifyIndex = result.results.find((written) => written.key === key)?.modifyIndex ?? current.modifyIndex
    return {ok: true, state: {topic, partition, state, modifyIndex}}
  }

  private partitionWrites(topic: string, states: {partition: number; state: PartitionState}[], leftovers: KvEntry[]): TxnKvOperation[] {
    const leftoverIndex = new Map<number, number>()
    const operations: TxnKvOperation[] = []
    for (const entry of leftovers) {
      const partition = this.keys.partitionOfKey(topic, entry.key)
      if (partition !== undefined && partition < states.length) leftoverIndex.set(partition, entry.modifyIndex)
      else operations.push(deleteCasOperation(entry.key, entry.modifyIndex))
    }
    for (const {partition, state} of states) {
      operations.push(casOperation(this.keys.partition(topic, partition), state, leftoverIndex.get(partition) ?? 0))
    }
    return operations
  }

  private readTopicEntry(entry: KvEntry): TopicRecord | undefined {
    const record = parseTopicRecord(entry.key, entry.value, this.logger)
    if (record && this.keys.topic(record.name) !== entry.key) {
      this.logger.warn('ignoring an unreadable catalog record in Consul', {key: entry.key, reason: `it names topic ${record.name}`})
      return undefined
    }
    return record && this.guardedTopic(record)
  }

  /** The record, or, written under an older controller epoch than one read before, the record read then. */
  private guardedTopic(record: TopicRecord): TopicRecord {
    const seen = this.topicGuards.get(record.name)
    if (!seen) {
      const guard = new EpochGuard()
      guard.observe(record.epoch)
      this.topicGuards.set(record.name, {guard, accepted: record})
      return record
    }
    try {
      seen.guard.check(record.epoch, `topic record ${record.name}`)
    } catch (error) {
      if (!(error instanceof LignumError) || error.code !== 'STALE_CONTROLLER_EPOCH') throw error
      this.logger.warn('ignoring a topic record from an older controller epoch', {topic: record.name, reason: error.message})
      return seen.accepted
    }
    seen.accepted = record
    return record
  }

  private readPartitionEntries(topic: string, entries: KvEntry[]): StoredPartitionState[] {
    const read: StoredPartitionState[] = []
    for (const entry of entries) {
      const partition = this.keys.partitionOfKey(topic, entry.key)
      const state = partition === undefined ? undefined : parsePartitionState(entry.key, entry.value, this.logger)
      if (partition !== undefined && state) read.push({topic, partition, state, modifyIndex: entry.modifyIndex})
    }
    return read.sort((left, right) => left.partition - right.partition)
  }
}

/**
 * A new partition: led by its first replica (in the incarnation it runs now, when known), every
 * replica in sync (all logs are empty), each recorded in the ISR as the process it runs now.
 */
function initialState(replicas: string[], controllerEpoch: number, incarnations: ReadonlyMap<string, string>): PartitionState {
  const leaderIncarnation = incarnations.get(replicas[0] ?? '')
  const isrIncarnations = incarnationsOfIsr(Object.fromEntries(incarnations), replicas)
  return {
    version: CATALOG_RECORD_VERSION,
    replicas,
    leader: replicas[0] ?? null,
    leaderEpoch: 0,
    isr: [...replicas],
    epoch: controllerEpoch,
    partitionEpoch: 0,
    ...(leaderIncarnation === undefined ? {} : {leaderIncarnation}),
    ...withIsrIncarnations(isrIncarnations),
  }
}

/** What a controller's change of a partition writes: stamped with its term's epoch and the next partition epoch. */
export function controllerPartitionState(term: ControllerTerm, current: PartitionState, next: ControllerPartitionChange): PartitionState {
  return {
    version: CATALOG_RECORD_VERSION,
    replicas: [...next.replicas],
    leader: next.leader,
    leaderEpoch: next.leaderEpoch,
    isr: [...next.isr],
    epoch: term.epoch,
    partitionEpoch: current.partitionEpoch + 1,
    ...(next.leader !== null && next.leaderIncarnation !== undefined ? {leaderIncarnation: next.leaderIncarnation} : {}),
    ...withIsrIncarnations(incarnationsOfIsr(next.isrIncarnations, next.isr)),
  }
}

function withIsrIncarnations(isrIncarnations: Record<string, string> | undefined): {isrIncarnations?: Record<string, string>} {
  return isrIncarnations === undefined ? {} : {isrIncarnations}
}

function validateIsr(topic: string, partition: number, isr: string[], state: PartitionState): void {
  const outside = isr.filter((node) => !state.replicas.includes(node))
  if (outside.length > 0 || new Set(isr).size !== isr.length || (state.leader !== null && !isr.includes(state.leader))) {
    throw new LignumError(
      'INVALID_ARGUMENT',
      `ISR [${isr.join(', ')}] for ${topic}-${partition} must be distinct replicas of [${state.replicas.join(', ')}] including the leader ${state.leader}`,
    )
  }
}

/** A controller whose epoch is older than one that wrote these records has been deposed. */
function refuseNewerEpochs(term: ControllerTerm, entries: KvEntry[], what: string): void {
  for (const entry of entries) {
    const epoch = (parseJson(entry.value) as {epoch?: unknown} | undefined)?.epoch
    if (typeof epoch === 'number' && epoch > term.epoch) {
      throw new LignumError(
        'STALE_CONTROLLER_EPOCH',
        `refusing to write ${what} under controller epoch ${term.epoch}: epoch ${epoch} has written it, this node is no longer the controller`,
      )
    }
  }
}

function chunked<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size))
  return chunks
}

function alreadyExists(name: string): LignumError {
  return new LignumError('ALREADY_EXISTS', `topic ${name} already exists: choose another name or delete it first`)
}

function unknownTopic(name: string): LignumError {
  return new LignumError('UNKNOWN_TOPIC', `topic ${name} does not exist`, {hint: `list topics with "lignum topics list"`})
}

function notController(term: ControllerTerm, what: string): LignumError {
  return new LignumError('NOT_CONTROLLER', `Consul refused ${what} under controller epoch ${term.epoch}: this node no longer holds the controller lock (or a concurrent write won); retry through the current controller`)
}
