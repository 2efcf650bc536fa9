/**
 * Resolves the configuration: defaults, then a file found by cosmiconfig
 * (lignum.config.{json,yaml,js}, .lignumrc, a "lignum" key in package.json), then LIGNUM_*
 * environment variables, then flags. Later sources win. Every value is checked on the way in,
 * so a bad one stops the program at start with a message naming the key.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {stripVTControlCharacters} from 'node:util'
import {LignumError} from '../errors.js'
import {coerceSetting, defaults, environmentName, GROUP_ALIASES, SETTING_GROUPS, settings, type LignumConfig} from './schema.js'

// cosmiconfig's defaults lack lignum.config.{json,yaml}; this is the documented list, in order.
const CONFIG_FILE_NAMES = [
  'package.json',
  '.lignumrc',
  '.lignumrc.json',
  '.lignumrc.yaml',
  '.lignumrc.yml',
  '.lignumrc.js',
  'lignum.config.json',
  'lignum.config.yaml',
  'lignum.config.yml',
  'lignum.config.js',
  'lignum.config.mjs',
  'lignum.config.cjs',
]

export interface LoadOptions {
  /** Flag values, already named like the settings; undefined means "not given". */
  flags?: Partial<Record<keyof LignumConfig, unknown>>
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** An explicit file (from --config); otherwise cosmiconfig searches from cwd upwards. */
  configFile?: string
}

export interface LoadedConfig {
  config: LignumConfig
  /** Where the file came from, if any. */
  filepath: string | undefined
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const config: Record<string, unknown> = {...defaults()}
  const found = await findConfigFile(options)
  if (found) applyObject(config, found.config, found.filepath)
  applyEnvironment(config, options.env ?? process.env)
  for (const [key, raw] of Object.entries(options.flags ?? {})) {
    if (raw !== undefined) config[key] = coerceSetting(key, raw, `flag --${kebab(key)}`)
  }
  return {config: config as unknown as LignumConfig, filepath: found?.filepath}
}

async function findConfigFile(options: LoadOptions): Promise<{config: unknown; filepath: string} | null> {
  if (!options.configFile && !mayFindConfigFile(options.cwd ?? process.cwd())) return null
  const {cosmiconfig} = await import('cosmiconfig')
  const explorer = cosmiconfig('lignum', {searchStrategy: 'project', searchPlaces: CONFIG_FILE_NAMES})
  try {
    const result = options.configFile ? await explorer.load(options.configFile) : await explorer.search(options.cwd ?? process.cwd())
    return result && !result.isEmpty ? {config: result.config, filepath: result.filepath} : null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && options.configFile) {
      throw new LignumError('CONFIG', `the configuration file ${options.configFile} does not exist`, {cause: error, hint: 'check the path given to --config'})
    }
    throw new LignumError('CONFIG', `cannot read the configuration file: ${describeLoadError(error)}`, {cause: error, hint: 'correct it, or point --config at another file'})
  }
}

/**
 * Whether cosmiconfig's search (from `cwd` up to the first directory with a package.json) could
 * find anything. Most runs have no configuration file, and loading and running cosmiconfig
 * costs about 15 ms of every command's start; a few existence checks cost well under one.
 */
function mayFindConfigFile(cwd: string): boolean {
  for (let directory = path.resolve(cwd); ; directory = path.dirname(directory)) {
    if (CONFIG_FILE_NAMES.some((name) => name !== 'package.json' && existsSync(path.join(directory, name)))) return true
    const packageJson = path.join(directory, 'package.json')
    if (existsSync(packageJson)) return hasLignumKey(packageJson)
    if (path.dirname(directory) === directory) return false
  }
}

function hasLignumKey(packageJson: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(packageJson, 'utf8'))
    return typeof parsed === 'object' && parsed !== null && 'lignum' in parsed
  } catch {
    // Unreadable or not JSON: let cosmiconfig read it and say what is wrong.
    return true
  }
}

/**
 * cosmiconfig's parse errors run over many lines: a heading naming the file, a code frame, and
 * the parser's reason. The heading and the reason make the one line a user needs.
 */
export function describeLoadError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const lines = stripVTControlCharacters(error.message).split('\n').map((line) => line.trim())
  const isCodeFrame = (line: string) => line === '' || /^(>\s*)?\d*\s*\|/.test(line) || /^-*\^$/.test(line)
  const [heading, ...rest] = lines
  const reason = rest.find((line) => !isCodeFrame(line))?.replace(/ while parsing .*$/, '')
  return reason === undefined ? heading : `${heading.replace(/:$/, '')}: ${reason}`
}

function applyObject(config: Record<string, unknown>, object: unknown, filepath: string): void {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new LignumError('CONFIG', `${filepath} must hold an object of settings, e.g. {"grpcPort": 50051}`)
  }
  for (const [key, raw] of Object.entries(object)) {
    if (isSettingGroup(key) && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      for (const [member, value] of Object.entries(raw)) config[groupedKey(key, member)] = coerceSetting(groupedKey(key, member), value, `${filepath} (${key}.${member})`)
    } else {
      config[key] = coerceSetting(key, raw, filepath)
    }
  }
}

function isSettingGroup(key: string): boolean {
  return (SETTING_GROUPS as readonly string[]).includes(key)
}

/** `tls` and `certFile` name the setting `tlsCertFile`; `consul` and `address` name `consul`. */
function groupedKey(group: string, member: string): string {
  const key = group + member.charAt(0).toUpperCase() + member.slice(1)
  return GROUP_ALIASES[key] ?? key
}

/** Another tool's variable (CONSUL_HTTP_TOKEN) first, then LIGNUM_*, which wins. */
function applyEnvironment(config: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [key, setting] of Object.entries(settings)) {
    for (const name of [...(setting.foreignEnvironment ?? []), environmentName(key)]) {
      const raw = env[name]
      if (raw !== undefined && raw !== '') config[key] = coerceSetting(key, raw, `environment variable ${name}`)
    }
  }
}

function kebab(key: string): string {
  return key.replaceAll(/[A-Z]/g, (letter) => '-' + letter.toLowerCase())
}
