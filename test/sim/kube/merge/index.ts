/**
 * Merge engine of the Kubernetes API simulator: server-side apply with managedFields, the Update-operation
 * bookkeeping of managedFields, and the three patch types. Pure functions over SimObjects; the schema comes
 * from ../schema (loadSchemas()).
 */
export { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
export {
  type ApplyConflict,
  type ApplyResult,
  conflictManagerText,
  conflictMessage,
  recordUpdate,
  serverSideApply,
  typedPatchErrorMessage,
} from './ssa.js';
