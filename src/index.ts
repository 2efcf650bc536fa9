/**
 * The public API of Lignum as a library: what a Node program may import. Internals of each
 * layer stay behind their own modules.
 */
export {LignumError, errorTable, type ErrorCode} from './errors.js'
