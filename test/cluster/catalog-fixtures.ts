/**
 * What the topic catalog's tests share: a logger that records warnings, taking the controller
 * lock under a fresh epoch, raw KV writes that bypass every check (to plant corrupt or stale
 * values), and waiting for a condition.
 */
import type {ClusterKeys} from '../../src/cluster/cluster-keys.js'
import {encodeValue, type ConsulApi} from '../../src/cluster/consul-api.js'
import type {ControllerTerm} from '../../src/cluster/controller-duties.js'
import {acquireOperations, parseEpochCounter} from '../../src/cluster/controller-state.js'
import type {LogFields, Logger} from '../../src/logger.js'

export interface RecordingLogger extends Logger {
  warnings: {message: string; fields: LogFields}[]
}

export function recordingLogger(): RecordingLogger {
  const warnings: {message: string; fields: LogFields}[] = []
  const logger: RecordingLogger = {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (message, fields = {}) => {
      warnings.push({message, fields})
    },
    error: () => {},
    child: () => logger,
  }
  return logger
}

/** A session holding the controller lock of `keys` under the next epoch. */
export async function takeControl(api: ConsulApi, keys: ClusterKeys, nodeId: string): Promise<ControllerTerm> {
  const sessionId = await api.createSession({name: `controller ${nodeId}`, checkIds: ['serfHealth'], lockDelayMs: 0})
  const epochEntry = await api.kvGet(keys.controllerEpoch)
  const epoch = parseEpochCounter(epochEntry?.value ?? null) + 1
  const taken = await api.transaction(acquireOperations(keys, sessionId, {nodeId, address: `${nodeId}:1`, epoch}, epochEntry))
  if (!taken.ok) throw new Error(`could not take the controller lock: ${taken.errors.join('; ')}`)
  const epochModifyIndex = taken.results.find((result) => result.key === keys.controllerEpoch)?.modifyIndex
  if (epochModifyIndex === undefined) throw new Error('the lock transaction did not report the epoch counter')
  return {sessionId, epoch, epochModifyIndex}
}

/** A session that holds nothing. */
export function bystander(api: ConsulApi, name: string): Promise<string> {
  return api.createSession({name, checkIds: ['serfHealth'], lockDelayMs: 0})
}

/** Writes a raw value, no lock and no check-and-set: what a buggy or old writer could leave. */
export async function plant(api: ConsulApi, key: string, value: string): Promise<void> {
  const result = await api.transaction([{KV: {Verb: 'set', Key: key, Value: encodeValue(value)}}])
  if (!result.ok) throw new Error(`could not plant ${key}: ${result.errors.join('; ')}`)
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
