/**
 * A small progress line on stderr (done / total, rate) for long commands. It draws only when
 * stderr is a terminal, at most every PROGRESS_REDRAW_MS, and clears itself when done; in a
 * pipe or a script it prints nothing at all.
 */
import {formatByteSize} from '../byte-size.js'

/** Redrawing more often than this only costs CPU; people cannot read faster. */
export const PROGRESS_REDRAW_MS = 100

export type ProgressUnit = 'bytes' | 'records' | 'segments' | 'items'

export interface ProgressOptions {
  label: string
  total?: number
  unit?: ProgressUnit
  stream?: NodeJS.WriteStream
}

export interface Progress {
  /** `done` in the progress unit; `records`, if given, is shown beside it. */
  update(done: number, records?: number): void
  done(): void
}

const silent: Progress = {update() {}, done() {}}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr
  if (!stream.isTTY) return silent
  const startedMs = Date.now()
  let lastDrawMs = 0
  let drawn = false
  const unit = options.unit ?? 'items'
  return {
    update(done, records) {
      const nowMs = Date.now()
      if (nowMs - lastDrawMs < PROGRESS_REDRAW_MS) return
      lastDrawMs = nowMs
      const seconds = Math.max((nowMs - startedMs) / 1000, 0.001)
      const parts = [options.label, formatAmount(done, unit) + (options.total === undefined ? '' : ` / ${formatAmount(options.total, unit)}`)]
      if (options.total) parts.push(`${Math.min(100, Math.floor((done / options.total) * 100))}%`)
      parts.push(`${formatAmount(done / seconds, unit)}/s`)
      if (records !== undefined) parts.push(`${records} records`)
      stream.write(`\r\x1b[2K${parts.join('  ')}`)
      drawn = true
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K')
      drawn = false
    },
  }
}

export function formatAmount(amount: number, unit: ProgressUnit): string {
  if (unit !== 'bytes') return `${Math.round(amount)} ${unit}`
  return formatByteSize(amount)
}
