/** `--replica` for the commands that read from a node: KIP-392's read from an in-sync follower. */
import {Flags} from '@oclif/core'

export function replicaFlag(options: {exclusive?: string[]} = {}) {
  return Flags.string({
    description: 'which replica serves the reads: leader, or any (the node --brokers reached, when it holds an in-sync replica; else the leader)',
    options: ['leader', 'any'],
    default: 'leader',
    exclusive: options.exclusive,
  })
}
