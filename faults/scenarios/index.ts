/** Every fault scenario, in the order a full run takes them. */
import type {Scenario} from '../scenario.js'
import {diskFaults} from './disk-faults.js'
import {followerFaults} from './follower-faults.js'
import {leaderFaults} from './leader-faults.js'
import {mixedFaults} from './mixed-faults.js'
import {networkFaults} from './network-faults.js'

export const scenarios: Scenario[] = [...followerFaults, ...leaderFaults, ...networkFaults, ...diskFaults, ...mixedFaults]

export function scenarioNamed(name: string): Scenario | undefined {
  return scenarios.find((scenario) => scenario.name === name)
}
