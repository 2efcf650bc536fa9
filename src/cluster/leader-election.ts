/**
 * The controller's partition leader election (Kafka's OfflinePartitionLeaderElection): when a
 * partition's leader is not live (its node's checks failed, its session ended, it left), the
 * next leader is the first live in-sync replica in assignment order, at the next leader epoch,
 * and the dead leader leaves the ISR. No live in-sync replica: the partition goes offline
 * (leader null) with its ISR kept as it was, so the last in-sync replica to come back leads
 * again with everything acknowledged. A topic that allows unclean election instead takes the
 * first live replica, in or out of sync, and may lose acknowledged writes doing so.
 *
 * Only eligible replicas are elected (the spirit of Kafka's KIP-966): a replica its node
 * reports damaged (a batch failing its CRC, a partition held offline: replica-health.ts) holds
 * a hole where acknowledged records were, so it is never chosen, clean or unclean, until a
 * repair and a restart clear the report; a damaged leader that is still live is replaced when
 * another live in-sync replica can take over (and kept, serving all but the damaged range,
 * when none can). A replica whose stored batches its node has not finished verifying since it
 * started is chosen only when no verified in-sync replica is live: most likely whole, and
 * better than an offline partition.
 *
 * A leader whose node restarted (a new incarnation in its registration) is no longer leader at
 * its old epoch: Kafka's controller likewise ends the leaderships of a broker that registers
 * with a new broker epoch.
 *
 * Invariants: the chosen leader is live, one of the replicas and not reported damaged; clean
 * election only chooses from the ISR; the leader epoch grows by exactly one with every change
 * of leader; the ISR written always contains the leader (or, offline, is left unchanged).
 */
import type {PartitionAssignment} from './controller-state.js'

export type ElectionInput = Pick<PartitionAssignment, 'replicas' | 'leader' | 'leaderEpoch' | 'isr' | 'leaderIncarnation' | 'isrIncarnations'>

export type ElectionDecision =
  | {kind: 'unchanged'}
  | {kind: 'elected'; next: ElectionInput; unclean: boolean}
  | {kind: 'offline'; next: ElectionInput}
  /** The live leader's incarnation written where the state had none: same leader, same epoch. */
  | {kind: 'recorded'; next: ElectionInput}

/** The nodes whose replica of this partition is known damaged, or not yet verified since their node started. */
export interface ReplicaEligibility {
  damaged: ReadonlySet<string>
  unverified: ReadonlySet<string>
}

const EVERY_REPLICA_ELIGIBLE: ReplicaEligibility = {damaged: new Set(), unverified: new Set()}
const NO_INCARNATIONS: ReadonlyMap<string, string> = new Map()

/**
 * What the controller writes for a partition, given which nodes are live now, which replicas
 * may lead, and the incarnation each live node registered with. A live leader whose node
 * registered a different incarnation than the one its leadership was given to restarted: that
 * leadership ended (it may have lost unsynced data, and leading again at the same epoch would
 * write new records at offsets its followers hold with other contents). It is handled as a
 * leader failure, except that the restarted node itself is taken, at the next epoch, when no
 * other in-sync replica can lead.
 */
export function electLeader(
  current: ElectionInput,
  live: ReadonlySet<string>,
  uncleanAllowed: boolean,
  eligibility: ReplicaEligibility = EVERY_REPLICA_ELIGIBLE,
  incarnations: ReadonlyMap<string, string> = NO_INCARNATIONS,
): ElectionDecision {
  const {damaged, unverified} = eligibility
  const leaderLive = current.leader !== null && live.has(current.leader)
  const leaderIncarnation = current.leader === null ? undefined : incarnations.get(current.leader)
  const restarted = leaderLive && leaderIncarnation !== undefined && current.leaderIncarnation !== undefined && leaderIncarnation !== current.leaderIncarnation
  if (leaderLive && !damaged.has(current.leader!) && !restarted) {
    if (leaderIncarnation !== undefined && current.leaderIncarnation === undefined) return {kind: 'recorded', next: {...current, leaderIncarnation}}
    return {kind: 'unchanged'}
  }
  const inSync = current.replicas.filter((node) => current.isr.includes(node) && live.has(node) && !damaged.has(node) && node !== current.leader)
  const clean = inSync.find((node) => !unverified.has(node)) ?? inSync[0]
  const incarnationOf = (node: string) => incarnations.get(node)
  // A restarted leader that no other in-sync replica can replace leads again, at a new epoch.
  if (restarted && clean === undefined && !damaged.has(current.leader!)) {
    return {kind: 'elected', unclean: false, next: {...current, leaderEpoch: current.leaderEpoch + 1, leaderIncarnation}}
  }
  // A damaged leader still live with nobody to take over keeps serving what it can.
  if (leaderLive && clean === undefined) return {kind: 'unchanged'}
  if (clean !== undefined) {
    // Only the dead (or damaged, or restarted) leader leaves the ISR: another dead follower is
    // shrunk away by the new leader's lag check, as any follower that stopped fetching.
    const isr = current.isr.filter((node) => node !== current.leader)
    return {kind: 'elected', unclean: false, next: ledBy({...current, leader: clean, leaderEpoch: current.leaderEpoch + 1, isr}, incarnationOf(clean))}
  }
  const unclean = uncleanAllowed ? current.replicas.find((node) => live.has(node) && !damaged.has(node)) : undefined
  if (unclean !== undefined) {
    return {kind: 'elected', unclean: true, next: ledBy({...current, leader: unclean, leaderEpoch: current.leaderEpoch + 1, isr: [unclean]}, incarnationOf(unclean))}
  }
  if (current.leader === null) return {kind: 'unchanged'}
  // Offline: the ISR stays as it was, the record of who holds every acknowledged write.
  return {kind: 'offline', next: ledBy({...current, leader: null, leaderEpoch: current.leaderEpoch + 1}, undefined)}
}

/** The state with the new leader's incarnation, or none when it is not known (or there is no leader). */
function ledBy(next: ElectionInput, leaderIncarnation: string | undefined): ElectionInput {
  const {leaderIncarnation: _previous, ...rest} = next
  return leaderIncarnation === undefined ? rest : {...rest, leaderIncarnation}
}
