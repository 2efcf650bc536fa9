/**
 * The simulator's only source of randomness: a seeded splitmix32 generator. Every choice a
 * run makes (which fault, which delay, which node) comes from one of these, so a seed replays
 * exactly. Streams are split by name (one per network link, one for the driver), so a link's
 * draws do not depend on how other links' messages interleave.
 */

export class Prng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A stream of its own for `name`, derived from `seed` alone. */
  static forStream(seed: number, name: string): Prng {
    let hash = 0x811c9dc5 ^ (seed >>> 0)
    for (let index = 0; index < name.length; index++) hash = Math.imul(hash ^ name.charCodeAt(index), 0x01000193)
    return new Prng(hash >>> 0)
  }

  /** A 32-bit unsigned integer (splitmix32). */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000
  }

  /** An integer in [low, high]. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1))
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(0, items.length - 1)]
  }
}
