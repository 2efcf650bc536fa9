/**
 * Reads a V8 .cpuprofile (what node --cpu-prof writes) and names the functions that took the
 * most CPU themselves (self time: samples whose top frame is the function), so a benchmark
 * can say where a node's time went without opening a profiler. Idle and GC are kept as V8
 * names them ("(idle)", "(garbage collector)", "(program)").
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface FunctionTime {
  function: string
  selfMs: number
  /** Of the profile's non-idle time. */
  share: number
}

function frameName(node: ProfileNode): string {
  const {functionName, url, lineNumber} = node.callFrame
  const where = url ? `${path.basename(url)}:${lineNumber + 1}` : ''
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`
}

/** The `count` functions with the most self time, idle excluded from the shares. */
export async function topSelfTime(profileFile: string, count: number): Promise<FunctionTime[]> {
  const profile = JSON.parse(await readFile(profileFile, 'utf8')) as Profile
  const names = new Map(profile.nodes.map((node) => [node.id, frameName(node)]))
  const selfMicros = new Map<string, number>()
  for (const [index, nodeId] of profile.samples.entries()) {
    const name = names.get(nodeId) ?? '(unknown)'
    selfMicros.set(name, (selfMicros.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0))
  }
  const busyMicros = [...selfMicros].filter(([name]) => !name.startsWith('(idle)')).reduce((sum, [, micros]) => sum + micros, 0)
  return [...selfMicros]
    .filter(([name]) => !name.startsWith('(idle)'))
    .sort((left, right) => right[1] - left[1])
    .slice(0, count)
    .map(([name, micros]) => ({function: name, selfMs: Math.round(micros / 1000), share: busyMicros > 0 ? Math.round((micros / busyMicros) * 1000) / 1000 : 0}))
}
