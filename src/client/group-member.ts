/**
 * One consumer's membership of a group, from the member's side of Kafka's classic protocol:
 * a round is JoinGroup (the coordinator assigns the member id, answers once every member has
 * joined) then SyncGroup (the leader member computes every member's partitions with the
 * assignor and sends them; each member receives its own). Between rounds a background loop
 * heartbeats every third of the session timeout; an answer that says a rebalance runs, or that
 * the membership is gone, makes `rejoinNeeded` true and calls `onRejoinNeeded` so the consumer
 * rejoins at its next step.
 *
 * Requests go to the node the client bootstrapped from, which forwards them to the group's
 * coordinator (standalone: it is the coordinator). Retriable failures (a coordinator that moved,
 * a node that is stopping) are retried; a coordinator that moved knows no member, so the next
 * answer is UNKNOWN_MEMBER_ID and the member joins afresh.
 *
 * Invariant: `generationId` and `memberId` are those of the last completed round; `lost` is set
 * when the coordinator says they are no longer valid, and a lost member commits nothing.
 */
import {LignumError} from '../errors.js'
import {CONSUMER_PROTOCOL_TYPE, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription} from '../format/consumer-protocol.js'
import type {Assignor} from './assignors/index.js'
import type {Connection} from './connection.js'
import {retryBackoffMs} from './retry.js'

/** Kafka's session.timeout.ms default is 45 s; a CLI consumer that dies should hand over sooner. */
export const SESSION_TIMEOUT_MS_DEFAULT = 10_000
/** How long a rebalance waits for the members to rejoin (Kafka's max.poll.interval.ms, shorter). */
export const REBALANCE_TIMEOUT_MS_DEFAULT = 60_000
// Kafka's heartbeat.interval.ms is a third of the session timeout by convention.
const HEARTBEATS_PER_SESSION = 3
// A round trip on top of the time the coordinator may hold a join or sync.
const CALL_MARGIN_MS = 10_000
// A round that keeps failing retriably (no coordinator yet, one moving) gives up after this long.
const ROUND_RETRY_DEADLINE_MS = 120_000
const CLIENT_ID = 'lignum'

export interface GroupMemberOptions {
  group: string
  topic: string
  assignor: Assignor
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  /** Partitions of a topic another member subscribes to (the leader assigns every member's topics). */
  partitionCountOf(topic: string): Promise<number>
}

export class GroupMember {
  memberId = ''
  generationId = -1
  /** A rebalance runs (or the membership was lost): rejoin before the next record. */
  rejoinNeeded = false
  /** The coordinator no longer counts this member: its partitions are already someone else's. */
  lost = false
  onRejoinNeeded: () => void = () => {}
  private heartbeatTimer: NodeJS.Timeout | undefined
  private stopped = false
  private joining = false

  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number

  constructor(
    private readonly connection: Connection,
    private readonly options: GroupMemberOptions,
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS_DEFAULT
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? REBALANCE_TIMEOUT_MS_DEFAULT
  }

  get isMember(): boolean {
    return this.memberId !== '' && this.generationId >= 0 && !this.lost
  }

  /** One full round (join, then sync), repeated until it completes: the partitions of the topic now assigned. */
  async joinRound(owned: number[]): Promise<number[]> {
    this.joining = true
    const giveUpAtMs = Date.now() + ROUND_RETRY_DEADLINE_MS
    let attempt = 0
    try {
      for (;;) {
        try {
          const assigned = await this.tryRound(owned)
          this.rejoinNeeded = false
          this.lost = false
          this.scheduleHeartbeat()
          return assigned
        } catch (error) {
          if (!(error instanceof LignumError)) throw error
          if (error.code === 'UNKNOWN_MEMBER_ID') this.memberId = ''
          else if (error.code !== 'REBALANCE_IN_PROGRESS' && error.code !== 'ILLEGAL_GENERATION' && !error.retriable) throw error
          if (this.stopped || Date.now() > giveUpAtMs) throw error
          if (error.retriable) await new Promise((resolve) => setTimeout(resolve, retryBackoffMs(++attempt)))
        }
      }
    } finally {
      this.joining = false
    }
  }

  /** Requests the next round (a cooperative member that gave partitions up rejoins so they move). */
  requestRejoin(): void {
    if (this.rejoinNeeded) return
    this.rejoinNeeded = true
    this.onRejoinNeeded()
  }

  /** A member's commit of next offsets: refused (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) if the membership is stale. */
  async commit(offsets: Map<number, number>): Promise<void> {
    if (offsets.size === 0) return
    const {connection} = this
    await connection.call(connection.grpc.commitOffsets, {
      group: this.options.group,
      offsets: [...offsets].map(([partition, offset]) => ({topic: this.options.topic, partition, offset: BigInt(offset), metadata: ''})),
      memberId: this.memberId,
      generationId: this.generationId,
    })
  }

  /** A clean exit: the others rebalance at once instead of after this member's session timeout. */
  async leave(): Promise<void> {
    this.stop()
    if (this.memberId === '') return
    const {connection} = this
    await connection.call(connection.grpc.leaveGroup, {group: this.options.group, memberId: this.memberId}).catch(() => {})
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.heartbeatTimer)
  }

  /** The coordinator answered that this member's partitions went elsewhere (or may have). */
  markLost(error: LignumError): void {
    if (error.code === 'UNKNOWN_MEMBER_ID') this.memberId = ''
    this.lost = true
    this.requestRejoin()
  }

  private async tryRound(owned: number[]): Promise<number[]> {
    const {connection, options} = this
    const metadata = encodeSubscription({topics: [options.topic], ownedPartitions: owned.length > 0 ? [{topic: options.topic, partitions: owned}] : []})
    const joined = await connection.call(
      connection.grpc.joinGroup,
      {
        group: options.group,
        memberId: this.memberId,
        clientId: CLIENT_ID,
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocols: [{name: options.assignor.name, metadata}],
        sessionTimeoutMs: this.sessionTimeoutMs,
        rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      },
      this.rebalanceTimeoutMs + CALL_MARGIN_MS,
    )
    this.memberId = joined.memberId
    this.generationId = joined.generationId
    const assignments = joined.leaderId === joined.memberId ? await this.assignAll(joined.members) : []
    const synced = await connection.call(connection.grpc.syncGroup, {group: options.group, memberId: this.memberId, generationId: this.generationId, assignments}, this.rebalanceTimeoutMs + CALL_MARGIN_MS)
    return decodeAssignment(synced.assignment)
      .filter((list) => list.topic === options.topic)
      .flatMap((list) => list.partitions)
      .sort((a, b) => a - b)
  }

  /** The leader's duty: every member's partitions, by the assignor all of them chose. */
  private async assignAll(members: {memberId: string; metadata: Buffer}[]): Promise<{memberId: string; assignment: Buffer}[]> {
    const subscribed = members.map((member) => ({memberId: member.memberId, subscription: decodeSubscription(member.metadata)}))
    const topics = [...new Set(subscribed.flatMap((member) => member.subscription.topics))]
    const counts = new Map(await Promise.all(topics.map(async (topic) => [topic, await this.options.partitionCountOf(topic)] as [string, number])))
    const assigned = this.options.assignor.assign(subscribed, counts)
    return [...assigned].map(([memberId, lists]) => ({memberId, assignment: encodeAssignment(lists)}))
  }

  private scheduleHeartbeat(): void {
    clearTimeout(this.heartbeatTimer)
    if (this.stopped) return
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), Math.floor(this.sessionTimeoutMs / HEARTBEATS_PER_SESSION))
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped || this.joining) return
    const {connection} = this
    try {
      await connection.call(connection.grpc.heartbeat, {group: this.options.group, memberId: this.memberId, generationId: this.generationId})
    } catch (error) {
      if (!(error instanceof LignumError) || this.joining || this.stopped) return this.scheduleHeartbeat()
      if (error.code === 'REBALANCE_IN_PROGRESS') this.requestRejoin()
      else if (error.code === 'UNKNOWN_MEMBER_ID' || error.code === 'ILLEGAL_GENERATION') this.markLost(error)
      // Anything else (a coordinator moving, a node stopping) is tried again at the next beat.
    }
    this.scheduleHeartbeat()
  }
}
