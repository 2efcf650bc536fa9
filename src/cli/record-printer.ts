/**
 * Prints consumed records to stdout as consume and tail do: --json lines, a --format
 * template, or each value on its own line. Output is buffered into large writes; a closed
 * pipe stops it quietly.
 */
import type {ConsumedRecord} from '../client/index.js'
import {OutputWriter} from '../ui/output-writer.js'
import {compileTemplate, DEFAULT_TEMPLATE, formatJsonLine} from '../ui/record-format.js'

export interface PrintOptions {
  json?: boolean
  format?: string
}

export class RecordPrinter {
  private readonly writer = new OutputWriter(process.stdout)
  private readonly render: (record: ConsumedRecord) => Buffer | string

  constructor(options: PrintOptions) {
    if (options.json) {
      this.render = (record) => formatJsonLine(record, record)
    } else {
      const template = compileTemplate(options.format ?? DEFAULT_TEMPLATE)
      this.render = (record) => template(record, record)
    }
  }

  get closed(): boolean {
    return this.writer.closed
  }

  print(record: ConsumedRecord): Promise<void> {
    return this.writer.write(this.render(record))
  }

  flush(): Promise<void> {
    return this.writer.flush()
  }
}
