/**
 * A byte count as people read it (512 B, 1.5 MiB): for messages of every layer and for
 * progress lines. Binary units, one decimal above bytes.
 */
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const

export function formatByteSize(bytes: number): string {
  let value = bytes
  let index = 0
  while (value >= 1024 && index < BYTE_UNITS.length - 1) {
    value /= 1024
    index++
  }
  return `${value.toFixed(index === 0 ? 0 : 1)} ${BYTE_UNITS[index]}`
}
