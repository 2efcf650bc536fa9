/**
 * What every lignum command shares: errors a user can cause (a LignumError, or a flag oclif
 * could not parse) end as one line on stderr and the exit code of the error table; configuration resolves flags > environment > file > defaults;
 * a closed stdout (`| head`) ends the command quietly with exit 0.
 */
import {Command, Flags, type Interfaces} from '@oclif/core'
import {errorTable, LignumError} from '../errors.js'
import {loadConfig} from '../config/load.js'
import type {LignumConfig} from '../config/schema.js'
import {asksForJson, writeError} from './error-output.js'
import {UsageError} from './usage-error.js'

// oclif's FlagOutput and ArgOutput, which its public interfaces do not export.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OutputShape = {[name: string]: any}

export abstract class LignumCommand extends Command {
  static configFlag = {
    config: Flags.string({description: 'configuration file (default: lignum.config.{json,yaml,js}, .lignumrc or package.json "lignum", searched from the current directory)', helpGroup: 'CONFIGURATION'}),
  }

  /** Where the nodes are and how to reach them: every command that talks to a node takes these. */
  static brokersFlag = {
    brokers: Flags.string({char: 'b', description: 'host:port[,host:port] of Lignum nodes [default: localhost:50051, or LIGNUM_BROKERS, or the config file]'}),
    'tls-ca': Flags.string({description: 'PEM CA the nodes\' certificates are signed by; connects with TLS [or LIGNUM_TLS_CA]', helpGroup: 'TLS'}),
    'tls-cert': Flags.string({description: 'PEM client certificate, for nodes that require one (mutual TLS) [or LIGNUM_TLS_CERT]', helpGroup: 'TLS'}),
    'tls-key': Flags.string({description: 'PEM private key of --tls-cert [or LIGNUM_TLS_KEY]', helpGroup: 'TLS'}),
  }

  override async init(): Promise<void> {
    await super.init()
    exitQuietlyOnClosedStdout()
  }

  /** Whatever oclif's parser refuses is a usage error, reported as one line by catch(). */
  protected override async parse<F extends OutputShape, B extends OutputShape, A extends OutputShape>(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      if (error instanceof LignumError || !(error instanceof Error)) throw error
      throw new UsageError(error)
    }
  }

  protected async resolveConfig(flags: Partial<Record<keyof LignumConfig, unknown>>, configFile?: string): Promise<LignumConfig> {
    return (await loadConfig({flags, configFile})).config
  }

  /** How the error's line says to fix it: its own hint, unless the command has one in its flags' words. */
  protected hintFor(error: LignumError): string | undefined {
    return error.hint
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}; code?: unknown}): Promise<unknown> {
    const json = this.showsErrorsAsJson()
    if (error instanceof LignumError) {
      writeError({code: error.code, message: error.message, hint: this.hintFor(error)}, json)
      return this.exit(error.exitCode)
    }
    if (error instanceof UsageError) {
      writeError({code: 'INVALID_ARGUMENT', message: error.line(this.config.bin, this.id ?? '')}, json)
      return this.exit(errorTable.INVALID_ARGUMENT.exitCode)
    }
    // this.exit() travels as an error too: it is an exit code, not a failure to show.
    if (json && error.code !== 'EEXIT') {
      writeError({code: 'INTERNAL', message: error.message}, json)
      return this.exit(error.oclif?.exit ?? errorTable.INTERNAL.exitCode)
    }
    return super.catch(error)
  }

  /** With --json, on a command that has it, errors are JSON lines on stderr too. */
  protected showsErrorsAsJson(): boolean {
    const ctor = this.constructor as typeof LignumCommand
    const hasJsonFlag = ctor.enableJsonFlag === true || Object.hasOwn(ctor.flags ?? {}, 'json')
    return hasJsonFlag && asksForJson(this.argv)
  }
}

let stdoutGuarded = false

/** A reader that closes the pipe early (`| head`) has what it wanted: exit 0, say nothing. */
export function exitQuietlyOnClosedStdout(): void {
  if (stdoutGuarded) return
  stdoutGuarded = true
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })
}
