/**
 * Kafka 4.1.1's console consumer as a consumer-group member, for the Kafka listener's group
 * tests: started in the background, its lines parsed back to partition and record, and the
 * group watched through `lignum groups describe` until its members hold every partition.
 */
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import path from 'node:path'
import {runCli} from './cli.js'
import type {KafkaTools} from './kafka-tools.js'

// The console tools' JVM takes seconds to start on a loaded machine.
export const TOOL_TIMEOUT_MS = 120_000
// A console consumer exits once it has had nothing for this long: long enough to span the
// join of its peer and the produce that follows.
export const IDLE_EXIT_MS = 25_000
const POLL_MS = 500

interface ConsoleRun {
  child: ChildProcess
  done: Promise<{code: number | null; stdout: string; stderr: string}>
}

/** Kafka's console consumer in group `group`, printing partition, key and value per line. */
export function consoleGroupConsumer(tools: KafkaTools, bootstrap: string, topic: string, group: string, idleExitMs: number): ConsoleRun {
  const child = spawn('java', ['-cp', path.join(tools.libDir, '*'), 'org.apache.kafka.tools.consumer.ConsoleConsumer', '--bootstrap-server', bootstrap, '--topic', topic, '--group', group, '--from-beginning', '--timeout-ms', String(idleExitMs), '--property', 'print.partition=true', '--property', 'print.key=true', '--property', 'key.separator=|'], {stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS)
  const done = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
  return {child, done}
}

/** "Partition:3|key-7|value 7" lines, as {partition, record: "key-7|value 7"}. */
export function parseConsumed(stdout: string): {partition: number; record: string}[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('Partition:'))
    .map((line) => {
      const [partitionField, ...rest] = line.split('|')
      return {partition: Number(partitionField!.slice('Partition:'.length)), record: rest.join('|')}
    })
}

export interface Description {
  state: string
  members: {memberId: string}[]
  partitions: {topic: string; partition: number; committedOffset: number | null; logEndOffset: number | null; memberId: string | null}[]
}

export async function describeGroup(brokers: string[], group: string): Promise<Description> {
  const described = await runCli(['groups', 'describe', group, '--json', ...brokers])
  expect(described.code, described.stderr).to.equal(0)
  return JSON.parse(described.stdout) as Description
}

/** Waits until the group is Stable with `members` members holding every partition of `topic`. */
export async function awaitStableSplit(brokers: string[], group: string, topic: string, partitions: number, members: number, deadlineMs: number): Promise<Description> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const description = await describeGroup(brokers, group).catch(() => undefined)
    const held = description?.partitions.filter((entry) => entry.topic === topic && entry.memberId !== null) ?? []
    if (description?.state === 'Stable' && description.members.length === members && held.length === partitions) return description
    if (Date.now() > deadline) throw new Error(`group ${group} did not settle on ${members} members holding ${partitions} partitions: ${JSON.stringify(description)}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

