/**
 * `produce --print-offsets`: a line on stdout per acknowledged record, where it was stored, as
 * rpk's produce prints them: "Produced to orders partition 2 at offset 17", or with --json
 * {"topic":"orders","partition":2,"offset":17}. Lines come as batches are acknowledged: in
 * input order within a partition, interleaved across partitions. With acks=0 the node answers
 * nothing, so the offset is -1.
 */
import type {AcknowledgedBatch} from '../client/producer.js'

export function producedOffsetsPrinter(json: boolean, stream: NodeJS.WritableStream = process.stdout): (batch: AcknowledgedBatch) => void {
  return ({topic, partition, baseOffset, count}) => {
    const lines: string[] = []
    for (let index = 0; index < count; index++) {
      const offset = baseOffset < 0 ? -1 : baseOffset + index
      lines.push(json ? JSON.stringify({topic, partition, offset}) : `Produced to ${topic} partition ${partition} at offset ${offset}`)
    }
    stream.write(lines.join('\n') + '\n')
  }
}
