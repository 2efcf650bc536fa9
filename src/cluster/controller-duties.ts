/**
 * What the controller does with its role: keep a record of every node it has seen registered
 * (`lignum/<cluster>/nodes/<id>`), so a node that crashed or left stays listed (down) and
 * partition assignments can name replicas that are not up right now; take out of every ISR the
 * followers that restarted since they joined it (isr-incarnations.ts); and elect a new leader
 * for every partition whose leader is not live.
 *
 * Every write is fenced (controller-state.ts) and carries the epoch; a refused write is not
 * an error, the next snapshot shows why (another controller, or a concurrent change).
 */
import type {Logger} from '../logger.js'
import type {StoredPartitionState} from './catalog-records.js'
import type {ClusterView} from './cluster-view.js'
import type {ClusterKeys} from './cluster-keys.js'
import type {ConsulApi, KvEntry, ServiceHealth} from './consul-api.js'
import {casOperation, parseNodeRecord, transactAsController, type NodeRecord} from './controller-state.js'
import {electLeader, type ElectionInput} from './leader-election.js'
import {withoutRestartedFollowers} from './isr-incarnations.js'
import {eligibilityOf, type NodeReplicaHealth} from './replica-health.js'

export interface ControllerTerm {
  sessionId: string
  epoch: number
  /**
   * The epoch counter's ModifyIndex when this term bumped it. Given, every write of the term
   * also checks it in Consul, so a write from a term that a newer one replaced (even under
   * the same session) is refused by Consul, not only by the nodes' epoch guards.
   */
  epochModifyIndex?: number
}

/** Writes a node record for each registered node whose record is missing or out of date. */
export async function recordRegisteredNodes(
  api: ConsulApi,
  keys: ClusterKeys,
  term: ControllerTerm,
  snapshot: {kvEntries: KvEntry[]; services: ServiceHealth[]},
): Promise<number> {
  const entries = new Map(snapshot.kvEntries.map((entry) => [entry.key, entry]))
  let written = 0
  for (const service of snapshot.services) {
    const nodeId = service.meta.nodeId
    if (!nodeId) continue
    const key = keys.node(nodeId)
    const entry = entries.get(key)
    const wanted: NodeRecord = {
      id: nodeId,
      address: service.meta.advertiseAddress ?? `${service.address}:${service.port}`,
      version: service.meta.version ?? '',
      epoch: term.epoch,
    }
    if (recordCurrent(parseNodeRecord(entry?.value ?? null), wanted)) continue
    const accepted = await transactAsController(api, keys, term, [casOperation(key, wanted, entry?.modifyIndex ?? 0)])
    if (!accepted) return written
    written += 1
  }
  return written
}

function recordCurrent(current: NodeRecord | undefined, wanted: NodeRecord): boolean {
  return current !== undefined && current.address === wanted.address && current.version === wanted.version
}

/** The catalog operations leader election needs (TopicCatalog's). */
export interface ElectionCatalog {
  describeAllTopics(): Promise<{topic: {name: string; settings: Record<string, string>}; partitions: StoredPartitionState[]}[]>
  writePartitionAsController(term: ControllerTerm, current: StoredPartitionState, next: ElectionInput): Promise<StoredPartitionState | undefined>
}

/**
 * How many times the controller sends one partition write whose answer it did not get before
 * it gives up for this run. Every attempt checks and sets the same ModifyIndex, so at most one
 * of them lands, and any definite answer settles them all; a run that gives up throws, and the
 * duty is run again.
 */
const UNKNOWN_OUTCOME_ATTEMPTS_MAX = 5

/**
 * Writes `next` with check-and-set on `stored`'s ModifyIndex until Consul answers whether it
 * landed. A call that failed without an answer (a timeout, a lost connection) may still be
 * applied later, when the nodes it was decided on have changed: a slow "offline" landing after
 * the leader came back would leave the partition offline with nothing to run the duty again.
 * Sending the same check-and-set again closes that window: once any attempt is answered, the
 * ModifyIndex has moved past the one they all check, so none still in flight can land after.
 */
async function writeUntilKnown(
  catalog: ElectionCatalog,
  term: ControllerTerm,
  stored: StoredPartitionState,
  next: ElectionInput,
  logger: Logger,
): Promise<'written' | 'refused'> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await catalog.writePartitionAsController(term, stored, next)) ? 'written' : 'refused'
    } catch (error) {
      if ((error as {code?: string}).code === 'STALE_CONTROLLER_EPOCH' || attempt >= UNKNOWN_OUTCOME_ATTEMPTS_MAX) throw error
      logger.warn('partition write unanswered; sending the same check-and-set again until one is answered', {
        topic: stored.topic,
        partition: stored.partition,
        modifyIndex: stored.modifyIndex,
        attempt,
        error: (error as Error).message,
      })
    }
  }
}

function incarnationsOf(nodes: readonly NodeReplicaHealth[]): Map<string, string> {
  return new Map(nodes.flatMap((node) => (node.incarnation === undefined ? [] : [[node.id, node.incarnation] as [string, string]])))
}

/** The topic setting that lets a partition with no live in-sync replica elect an out-of-sync one. */
export const UNCLEAN_LEADER_ELECTION_SETTING = 'uncleanLeaderElection'

/**
 * Takes out of every ISR the followers whose live registration shows another incarnation than
 * the one they joined it with (isr-incarnations.ts: restarted, maybe without their unsynced
 * tail), then elects a leader for every partition whose leader is not live or is reported
 * damaged (leader-election.ts's choice, from the replicas `nodes` report eligible) over the ISR
 * that leaves, both in one write, fenced and checked and set on the state read (the next
 * partition epoch). Run on every membership change (a restart within the TTL is one: its new
 * incarnation re-registers) and when a node
 * becomes controller, so a leader that died while there was no controller is replaced too.
 * Resolves false when a write was refused (a concurrent ISR change, a lost lock): run again.
 */
export async function electPartitionLeaders(
  catalog: ElectionCatalog,
  term: ControllerTerm,
  live: ReadonlySet<string>,
  logger: Logger,
  nodes: readonly NodeReplicaHealth[] = [],
): Promise<boolean> {
  let settled = true
  const incarnations = incarnationsOf(nodes.filter((node) => live.has(node.id)))
  for (const {topic, partitions} of await catalog.describeAllTopics()) {
    const uncleanAllowed = topic.settings[UNCLEAN_LEADER_ELECTION_SETTING] === 'true'
    for (const stored of partitions) {
      const eligibility = eligibilityOf(nodes.filter((node) => live.has(node.id)), topic.name, stored.partition)
      const removal = withoutRestartedFollowers(stored.state, incarnations)
      const decision = electLeader(removal?.next ?? stored.state, live, uncleanAllowed, eligibility, incarnations)
      const next = decision.kind === 'unchanged' ? removal?.next : decision.next
      if (next === undefined) continue
      const outcome = await writeUntilKnown(catalog, term, stored, next, logger)
      if (outcome === 'refused') {
        settled = false
        continue
      }
      const fields = {topic: topic.name, partition: stored.partition, from: stored.state.leader, to: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr, controllerEpoch: term.epoch, damaged: [...eligibility.damaged], unverified: [...eligibility.unverified]}
      if (removal) logger.info('restarted followers removed from the ISR: they rejoin once caught up under their new incarnation', {...fields, removed: removal.removed})
      if (decision.kind === 'unchanged') continue
      if (decision.kind === 'offline') logger.error('partition offline: no live in-sync replica to lead it', {...fields, fix: 'restart one of its in-sync replicas; unclean election (--unclean-leader-election) would lose acknowledged writes'})
      else if (decision.kind === 'recorded') logger.info('partition leader incarnation recorded', fields)
      else if (decision.unclean) logger.warn('unclean leader elected: acknowledged writes beyond its log are lost', fields)
      else logger.info('partition leader elected', fields)
    }
  }
  return settled
}

/**
 * The duty as the controller runs it (cluster-replication.ts): live are the nodes its view
 * shows up, and their registrations say each one's incarnation and damaged and unverified replicas.
 */
export function electPartitionLeadersOfView(catalog: ElectionCatalog, term: ControllerTerm, view: Pick<ClusterView, 'nodes'>, logger: Logger): Promise<boolean> {
  const live = new Set(view.nodes.filter((node) => node.status === 'up').map((node) => node.id))
  return electPartitionLeaders(catalog, term, live, logger, view.nodes)
}
