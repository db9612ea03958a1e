/**
 * The operations of the published OpenAPI document, reduced to what the hostile-input generator
 * needs: where each input lives (path, query, header, JSON body field) and its declared type.
 */

type Json = Record<string, unknown>;

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'unknown';

export interface Field {
  name: string;
  type: FieldType;
  required: boolean;
}

export interface Operation {
  operationId: string;
  method: string;
  /** Template with `{name}` placeholders, relative to /api. */
  path: string;
  pathParams: string[];
  queryParams: Field[];
  headerParams: Field[];
  /** Properties of the JSON body (empty when the operation takes none or a raw body). */
  bodyFields: Field[];
  hasJsonBody: boolean;
  /** Security alternatives, flattened to the scheme names. */
  security: string[][];
}

function resolve(doc: Json, schema: Json | undefined): Json {
  let current = schema ?? {};
  for (let i = 0; i < 10 && typeof current.$ref === 'string'; i++) {
    const path = current.$ref.replace(/^#\//, '').split('/');
    let target: unknown = doc;
    for (const part of path) target = (target as Json)[part];
    current = target as Json;
  }
  return current;
}

function typeOf(doc: Json, schema: Json | undefined): FieldType {
  const s = resolve(doc, schema);
  const t = Array.isArray(s.type) ? (s.type as string[]).find((x) => x !== 'null') : s.type;
  if (typeof t === 'string' && ['string', 'integer', 'number', 'boolean', 'array', 'object'].includes(t))
    return t as FieldType;
  return 'unknown';
}

export function operationsOf(doc: Json): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const op = raw as Json;
      const params = ((op.parameters as Json[] | undefined) ?? []).map((p) => resolve(doc, p));
      const field = (p: Json): Field => ({
        name: p.name as string,
        type: typeOf(doc, p.schema as Json),
        required: p.required === true,
      });
      const content = (resolve(doc, op.requestBody as Json).content ?? {}) as Record<string, Json>;
      const bodySchema = content['application/json']
        ? resolve(doc, content['application/json'].schema as Json)
        : undefined;
      const required = new Set((bodySchema?.required as string[] | undefined) ?? []);
      const properties = (bodySchema?.properties ?? {}) as Record<string, Json>;
      ops.push({
        operationId: op.operationId as string,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name as string),
        queryParams: params.filter((p) => p.in === 'query').map(field),
        headerParams: params.filter((p) => p.in === 'header').map(field),
        bodyFields: Object.entries(properties).map(([name, schema]) => ({
          name,
          type: typeOf(doc, schema),
          required: required.has(name),
        })),
        hasJsonBody: bodySchema !== undefined,
        security: ((op.security as Json[] | undefined) ?? []).map((alt) => Object.keys(alt)),
      });
    }
  }
  return ops;
}
