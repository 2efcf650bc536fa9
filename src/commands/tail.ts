import {setMaxListeners} from 'node:events'
import {Flags} from '@oclif/core'
import React from 'react'
import {ClientCommand} from '../cli/client-command.js'
import {LignumCommand} from '../cli/lignum-command.js'
import {onInterrupt} from '../cli/interrupt.js'
import {RecordPrinter} from '../cli/record-printer.js'
import type {ReplicaChoice} from '../client/index.js'
import {replicaFlag} from '../cli/replica-flag.js'
import {createTailState, recordIntoTailState} from '../ui/tail-state.js'
import {TailView} from '../ui/tail-view.js'

export default class Tail extends ClientCommand {
  static override summary = 'Print the last records of a topic, then follow it live, like tail -f.'

  static override description = 'On a terminal a live view that fits the terminal: the records counted and the rate of new ones, each partition\'s newest offset, and the newest records by time with their keys (control characters and bytes that are not text shown escaped, as \\x1b). In a pipe, plain lines (or --json / --format). Ctrl-C stops.'

  static override examples = [
    '<%= config.bin %> tail -t orders',
    '<%= config.bin %> tail -t orders -n 100 --partition 2',
    '<%= config.bin %> tail -t orders --json | jq .value',
  ]

  static override flags = {
    ...LignumCommand.brokersFlag,
    ...LignumCommand.configFlag,
    topic: Flags.string({char: 't', description: 'topic to follow', required: true}),
    partition: Flags.integer({char: 'p', description: 'only this partition [default: all]', min: 0, multiple: true}),
    lines: Flags.integer({char: 'n', description: 'records to show from before now, per partition', min: 0, default: 10}),
    format: Flags.string({char: 'f', description: 'template: %s value, %k key, %o offset, %p partition, %t topic, %T timestamp, %h headers'}),
    json: Flags.boolean({description: 'one JSON object per record'}),
    replica: replicaFlag(),
  }

  private stopListening: (() => void) | undefined

  async run(): Promise<void> {
    const {flags} = await this.parse(Tail)
    const client = await this.connect(flags)
    const stop = new AbortController()
    // The consumer listens on it once per partition: the count grows with the topic, it is no leak.
    setMaxListeners(0, stop.signal)
    this.stopListening = onInterrupt(() => stop.abort())
    // Before the first fetch: records stamped earlier are the backlog, not the rate.
    const startedMs = Date.now()
    const chunks = client.consumeChunks({topic: flags.topic, partitions: flags.partition, from: flags.lines === 0 ? 'end' : -flags.lines, replica: flags.replica as ReplicaChoice, signal: stop.signal})
    const live = process.stdout.isTTY && !flags.json && !flags.format
    if (live) {
      const {render} = await import('ink')
      const state = createTailState(flags.topic, startedMs)
      const view = render(React.createElement(TailView, {state}), {exitOnCtrlC: false})
      for await (const chunk of chunks) {
        for (const record of chunk.records) recordIntoTailState(state, chunk.partition, record)
      }
      view.unmount()
      return
    }
    const printer = new RecordPrinter({json: flags.json, format: flags.format})
    for await (const chunk of chunks) {
      await printer.printChunk(chunk)
      chunk.release()
      // Followers want each record as it comes, not when a buffer fills.
      await printer.flush()
      if (printer.closed) break
    }
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.stopListening?.()
    return super.finally(error)
  }
}
