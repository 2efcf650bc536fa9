/**
 * bench/results/latest.{json,md} hold the peers part's results and, beside them, sections
 * other parts own (the replicated cluster part). A section is one key under `sections` in
 * the JSON and one block between `<!-- section NAME -->` and `<!-- end section NAME -->` in
 * the markdown. Each writer replaces only what it owns: the peers part rewrites the file and
 * carries the sections over; a section writer replaces (or appends) its own block.
 */
import {readFile, writeFile} from 'node:fs/promises'

type JsonDocument = Record<string, unknown> & {sections?: Record<string, unknown>}

function beginMarker(name: string): string {
  return `<!-- section ${name} -->`
}

function endMarker(name: string): string {
  return `<!-- end section ${name} -->`
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch {
    return ''
  }
}

async function readJson(file: string): Promise<JsonDocument> {
  const text = await readOrEmpty(file)
  return text ? (JSON.parse(text) as JsonDocument) : {}
}

/** Every section block in `markdown`, markers included, in order. */
export function sectionBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/<!-- section ([\w-]+) -->[\s\S]*?<!-- end section \1 -->/g)].map((match) => match[0])
}

/** `markdown` with the block of `name` replaced by `block` (markers added), or with it appended. */
export function withSection(markdown: string, name: string, block: string): string {
  const wrapped = `${beginMarker(name)}\n${block.trimEnd()}\n${endMarker(name)}`
  const existing = sectionBlocks(markdown).find((candidate) => candidate.startsWith(beginMarker(name)))
  if (existing) return markdown.replace(existing, () => wrapped)
  return `${markdown.trimEnd()}${markdown.trim() ? '\n\n' : ''}${wrapped}\n`
}

/** Writes the peers part's document and markdown, keeping the sections already in the files. */
export async function writeCarryingSections(jsonPath: string, markdownPath: string, document: object, markdown: string): Promise<void> {
  const sections = (await readJson(jsonPath)).sections
  await writeFile(jsonPath, JSON.stringify({...document, ...(sections ? {sections} : {})}, null, 2) + '\n')
  const blocks = sectionBlocks(await readOrEmpty(markdownPath))
  await writeFile(markdownPath, [markdown.trimEnd(), ...blocks].join('\n\n') + '\n')
}

/** Replaces section `name` in both files, leaving everything else in them as it was. */
export async function writeSection(jsonPath: string, markdownPath: string, name: string, value: unknown, markdown: string): Promise<void> {
  const document = await readJson(jsonPath)
  document.sections = {...document.sections, [name]: value}
  await writeFile(jsonPath, JSON.stringify(document, null, 2) + '\n')
  await writeFile(markdownPath, withSection(await readOrEmpty(markdownPath), name, markdown))
}
