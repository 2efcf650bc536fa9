import {Flags} from '@oclif/core'
import {createInterface} from 'node:readline/promises'
import {LignumCommand} from '../../cli/lignum-command.js'
import {LignumError} from '../../errors.js'
import {selectPartitions} from '../../log/log-reader.js'
import {applyRepair, planRepair, type RepairPlan} from '../../log/repair.js'
import {lockDataDir} from '../../server/data-dir-lock.js'
import {renderRepairDone, renderRepairPlan} from '../../ui/repair-report.js'

export interface RepairResult extends RepairPlan {
  repaired: boolean
  dryRun: boolean
}

export default class SegmentsRepair extends LignumCommand {
  static override summary = 'Repair a damaged partition offline: keep every whole batch before the damage, move the rest aside.'
  static override description =
    'With no server running on the data directory (it takes the directory\'s lock), CRC-checks every segment of the partition, then truncates it to its last good batch: ' +
    'the bytes cut from the damaged segment and every later segment (a missing middle segment cuts the log there too: offsets must stay dense) move into <topic>-<partition>.damaged/<time>/ beside the partition, nothing is deleted. ' +
    'It prints exactly what leaves the log (files, offsets, batches, records, bytes) and asks on a terminal; elsewhere it needs --yes. --dry-run only prints.'
  static override examples = [
    '<%= config.bin %> segments repair --data-dir ./data -t orders -p 0 --dry-run',
    '<%= config.bin %> segments repair --data-dir ./data -t orders -p 0',
    '<%= config.bin %> segments repair --data-dir ./data -t orders -p 0 --yes --json',
  ]
  static override enableJsonFlag = true
  static override flags = {
    'data-dir': Flags.string({char: 'd', description: 'the data directory (no server may be running on it)', required: true}),
    topic: Flags.string({char: 't', description: 'topic of the damaged partition', required: true}),
    partition: Flags.integer({char: 'p', description: 'the damaged partition', required: true, min: 0}),
    yes: Flags.boolean({char: 'y', description: 'repair without asking'}),
    'dry-run': Flags.boolean({description: 'print what the repair would drop, change nothing', exclusive: ['yes']}),
  }

  async run(): Promise<RepairResult> {
    const {flags} = await this.parse(SegmentsRepair)
    const dataDir = flags['data-dir']
    const asks = !flags.yes && !flags['dry-run']
    // A wrong directory or partition is said before anything about asking.
    await selectPartitions(dataDir, flags.topic, flags.partition)
    if (asks && !process.stdin.isTTY) {
      throw new LignumError('INVALID_ARGUMENT', 'segments repair moves data out of the log and asks first, but stdin is not a terminal: add --yes to repair, or --dry-run to see what it would drop')
    }
    const lock = await lockDataDir(dataDir).catch((error: unknown) => {
      if (error instanceof LignumError && error.code === 'LOCKED') throw new LignumError('LOCKED', `cannot repair while a server uses the data directory: ${error.message}`, {hint: error.hint})
      throw error
    })
    try {
      const plan = await planRepair(dataDir, flags.topic, flags.partition)
      // With --json the document is the output; a question still needs the plan read first.
      if (!this.jsonEnabled()) this.log(renderRepairPlan(plan))
      else if (asks) process.stderr.write(renderRepairPlan(plan) + '\n')
      if (plan.damage === null || flags['dry-run']) return {...plan, repaired: false, dryRun: flags['dry-run']}
      if (asks && !(await confirm())) {
        process.stderr.write('Nothing changed.\n')
        process.exitCode = 1
        return {...plan, repaired: false, dryRun: false}
      }
      const {logEndOffset} = await applyRepair(plan)
      if (!this.jsonEnabled()) this.log(renderRepairDone(plan, logEndOffset))
      return {...plan, repaired: true, dryRun: false}
    } finally {
      await lock.release()
    }
  }
}

async function confirm(): Promise<boolean> {
  const prompt = createInterface({input: process.stdin, output: process.stderr})
  try {
    const answer = await prompt.question('Repair it as above? (y/N) ')
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    prompt.close()
  }
}
