/**
 * The seam to schema/ (validation, defaulting) and merge/ (server-side apply, patches): the server only sees
 * this interface, so tests can hand it other implementations.
 */
import type { SimObject } from './types.js';

export interface FieldError {
  reason: string;
  field: string;
  message: string;
}

export interface SchemaRegistry {
  unknownFields(apiVersion: string, kind: string, obj: unknown): string[];
  validate(apiVersion: string, kind: string, obj: SimObject, old?: SimObject): FieldError[];
  applyDefaults(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** Drops unknown fields; returns a copy. */
  pruneUnknown?(apiVersion: string, kind: string, obj: SimObject): SimObject;
  /** The 400 text when the body does not decode into the Go type (a string where an int belongs...). */
  decodeError?(apiVersion: string, kind: string, obj: unknown): string | undefined;
  /** Whether the kind has a schema at all. */
  has?(apiVersion: string, kind: string): boolean;
}

export type ApplyResult =
  | { ok: true; object: SimObject }
  | { ok: false; conflicts: Array<{ manager: string; field: string }> }
  | {
      ok: false;
      unknownFields: string[];
      /** The typed-conversion error after `failed to create typed patch object (...): `, when given. */
      message?: string;
    };

/** What a server-side apply needs; `S` is the schema registry the implementation works with. */
export interface ApplyArgs<S = SchemaRegistry> {
  existing?: SimObject;
  applied: SimObject;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
  schemas: S;
}

/** What the field manager needs to record an Update-operation write; `S` as for ApplyArgs. */
export interface RecordUpdateArgs<S = SchemaRegistry> {
  old?: SimObject;
  updated: SimObject;
  manager: string;
  apiVersion: string;
  now: string;
  schemas: S;
  subresource?: string;
  operation?: 'Update';
}

export interface Codecs {
  schemas: SchemaRegistry;
  serverSideApply(args: ApplyArgs): ApplyResult;
  recordUpdate(args: RecordUpdateArgs): SimObject;
  strategicMergePatch(
    obj: SimObject,
    patch: unknown,
    apiVersion: string,
    kind: string,
    schemas: SchemaRegistry,
  ): SimObject;
  mergePatch(obj: SimObject, patch: unknown): SimObject;
  jsonPatch(obj: SimObject, ops: unknown): SimObject;
}
