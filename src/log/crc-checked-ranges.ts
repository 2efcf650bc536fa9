/**
 * Which byte ranges of a segment's `.log` have had their batches CRC-checked since the segment
 * was opened: reads check a batch of an unchecked range once, then serve it without a CRC pass
 * (the zero-copy path). Ranges are kept sorted, disjoint and merged when they touch.
 * Forgetting a range is always sound (it is only checked again), so the list is bounded.
 */

/** A reader starting mid-segment adds one range that then grows; more than this is unusual. */
const RANGES_MAX = 64

export class CrcCheckedRanges {
  /** Flat pairs [start, end) in increasing order. */
  private bounds: number[] = []

  get count(): number {
    return this.bounds.length / 2
  }

  covers(start: number, end: number): boolean {
    for (let index = 0; index < this.bounds.length; index += 2) {
      if (this.bounds[index] <= start) {
        if (this.bounds[index + 1] >= end) return true
      } else {
        return false
      }
    }
    return false
  }

  add(start: number, end: number): void {
    if (end <= start) return
    const merged: number[] = []
    let newStart = start
    let newEnd = end
    let placed = false
    for (let index = 0; index < this.bounds.length; index += 2) {
      const rangeStart = this.bounds[index]
      const rangeEnd = this.bounds[index + 1]
      if (rangeEnd < newStart) {
        merged.push(rangeStart, rangeEnd)
      } else if (rangeStart > newEnd) {
        if (!placed) merged.push(newStart, newEnd)
        placed = true
        merged.push(rangeStart, rangeEnd)
      } else {
        newStart = Math.min(newStart, rangeStart)
        newEnd = Math.max(newEnd, rangeEnd)
      }
    }
    if (!placed) merged.push(newStart, newEnd)
    this.bounds = merged
    if (this.count > RANGES_MAX) this.forgetShortest()
  }

  /** The file was cut at `position`: nothing past it is checked any more. */
  truncate(position: number): void {
    const kept: number[] = []
    for (let index = 0; index < this.bounds.length; index += 2) {
      if (this.bounds[index] >= position) break
      kept.push(this.bounds[index], Math.min(this.bounds[index + 1], position))
    }
    this.bounds = kept
  }

  private forgetShortest(): void {
    let shortest = 0
    for (let index = 2; index < this.bounds.length; index += 2) {
      if (this.bounds[index + 1] - this.bounds[index] < this.bounds[shortest + 1] - this.bounds[shortest]) shortest = index
    }
    this.bounds.splice(shortest, 2)
  }
}
