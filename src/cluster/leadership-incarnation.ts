/**
 * The node's side of incarnations (replica-health.ts's INCARNATION_META): whether a leadership
 * the catalog records for this node was given to this process. One given to the process before
 * a restart ended with it (the controller elects anew, at a new leader epoch:
 * leader-election.ts); acting on it could write new records at offsets the followers hold
 * with other contents, at the same epoch, with nothing to tell them to truncate.
 *
 * Invariant: a state naming another node, or recording no incarnation (written before they
 * were), is never refused here.
 */
import type {PartitionAssignment} from './controller-state.js'

export function leadershipOfThisProcess(state: Pick<PartitionAssignment, 'leader' | 'leaderIncarnation'>, nodeId: string, incarnation: string): boolean {
  const {leader, leaderIncarnation} = state
  return leader !== nodeId || leaderIncarnation === undefined || leaderIncarnation === incarnation
}
