/**
 * A small validator for the JSON Schema subset our OpenAPI 3.1 document uses — $ref (local),
 * type (one or a list), const, enum, properties/required/additionalProperties, items,
 * minItems/maxItems, minimum/maximum, pattern, minLength/maxLength, oneOf/anyOf/allOf, and
 * format date-time — plus a lookup of the response schema for (path, method, status). Unknown
 * keywords are refused so the document cannot silently use something this does not check.
 * Tests only.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$ref', 'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems',
  'minimum', 'maximum', 'pattern', 'minLength', 'maxLength', 'oneOf', 'anyOf', 'allOf', 'format',
  // annotations (no assertion)
  'description', 'title', 'default', 'examples', 'example', 'contentEncoding', 'contentMediaType', 'deprecated', 'readOnly', 'writeOnly',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const t = typeOf(v);
  return want === t || (want === 'number' && t === 'integer');
}

export function resolveRef(doc: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let cur: unknown = doc;
  for (const part of ref.slice(2).split('/')) cur = (cur as Record<string, unknown>)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (!cur || typeof cur !== 'object') throw new Error(`unresolved $ref ${ref}`);
  return cur as Schema;
}

/** Errors as "path: message" strings; empty when the value is valid. */
export function validate(doc: Schema, schema: Schema, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) errs.push(`${path}: schema uses unsupported keyword '${k}'`);
  if (typeof schema['$ref'] === 'string') return [...errs, ...validate(doc, resolveRef(doc, schema['$ref']), value, path)];
  const t = schema['type'];
  if (t !== undefined) {
    const types = Array.isArray(t) ? (t as string[]) : [t as string];
    if (!types.some((x) => typeMatches(x, value))) return [...errs, `${path}: expected ${types.join('|')}, got ${typeOf(value)}`];
  }
  if ('const' in schema && JSON.stringify(schema['const']) !== JSON.stringify(value)) errs.push(`${path}: expected const ${JSON.stringify(schema['const'])}`);
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errs.push(`${path}: ${JSON.stringify(value)} not in enum ${JSON.stringify(schema['enum'])}`);
  }
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) errs.push(`${path}: ${value} < minimum ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) errs.push(`${path}: ${value} > maximum ${schema['maximum']}`);
  }
  if (typeof value === 'string') {
    if (typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(value)) errs.push(`${path}: '${value.slice(0, 80)}' does not match ${schema['pattern']}`);
    if (typeof schema['minLength'] === 'number' && value.length < schema['minLength']) errs.push(`${path}: shorter than ${schema['minLength']}`);
    if (typeof schema['maxLength'] === 'number' && value.length > schema['maxLength']) errs.push(`${path}: longer than ${schema['maxLength']}`);
    if (schema['format'] === 'date-time' && (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value))) errs.push(`${path}: '${value}' is not a date-time`);
  }
  if (Array.isArray(value)) {
    if (typeof schema['minItems'] === 'number' && value.length < schema['minItems']) errs.push(`${path}: fewer than ${schema['minItems']} items`);
    if (typeof schema['maxItems'] === 'number' && value.length > schema['maxItems']) errs.push(`${path}: more than ${schema['maxItems']} items`);
    if (schema['items'] && typeof schema['items'] === 'object') value.forEach((v, i) => errs.push(...validate(doc, schema['items'] as Schema, v, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const o = value as Record<string, unknown>;
    for (const r of (schema['required'] as string[] | undefined) ?? []) if (!(r in o)) errs.push(`${path}: missing required '${r}'`);
    const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const [k, v] of Object.entries(o)) {
      if (props[k]) errs.push(...validate(doc, props[k]!, v, `${path}.${k}`));
      else if (schema['additionalProperties'] === false) errs.push(`${path}: unexpected property '${k}'`);
      else if (schema['additionalProperties'] && typeof schema['additionalProperties'] === 'object') errs.push(...validate(doc, schema['additionalProperties'] as Schema, v, `${path}.${k}`));
    }
  }
  if (Array.isArray(schema['allOf'])) for (const s of schema['allOf'] as Schema[]) errs.push(...validate(doc, s, value, path));
  if (Array.isArray(schema['anyOf']) && !(schema['anyOf'] as Schema[]).some((s) => validate(doc, s, value, path).length === 0)) errs.push(`${path}: matches none of anyOf`);
  if (Array.isArray(schema['oneOf'])) {
    const n = (schema['oneOf'] as Schema[]).filter((s) => validate(doc, s, value, path).length === 0).length;
    if (n !== 1) errs.push(`${path}: matches ${n} of oneOf (exactly 1 required)`);
  }
  return errs;
}

/** The path template of the document that matches a concrete request path, e.g. /v1/models/demo → /v1/models/{name}. */
export function matchPathTemplate(doc: Schema, path: string): string | undefined {
  const paths = Object.keys((doc['paths'] as Schema) ?? {});
  if (paths.includes(path)) return path;
  const segs = path.split('/');
  for (const p of paths) {
    const ps = p.split('/');
    const last = ps[ps.length - 1]!;
    // a trailing {path} parameter may span several segments (files/*path)
    const greedy = /^\{path\}$/.test(last);
    if (greedy ? segs.length < ps.length : segs.length !== ps.length) continue;
    if (ps.every((s, i) => (/^\{.+\}$/.test(s) ? segs[i] !== '' : s === segs[i]))) return p;
  }
  return undefined;
}

/** The JSON response schema documented for (path, method, status); throws when undocumented. */
export function responseSchema(doc: Schema, path: string, method: string, status: number): Schema {
  const tpl = matchPathTemplate(doc, path);
  if (!tpl) throw new Error(`path ${path} is not documented`);
  let op = ((doc['paths'] as Record<string, Schema>)[tpl]! as Record<string, Schema>)[method.toLowerCase()];
  if (!op && method === 'HEAD') op = ((doc['paths'] as Record<string, Schema>)[tpl]! as Record<string, Schema>)['get'];
  if (!op) throw new Error(`${method} ${tpl} is not documented`);
  const responses = op['responses'] as Record<string, Schema>;
  let r = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses['default'];
  if (!r) throw new Error(`${method} ${tpl}: status ${status} is not documented (has ${Object.keys(responses).join(', ')})`);
  if (typeof r['$ref'] === 'string') r = resolveRef(doc, r['$ref']);
  const content = r['content'] as Record<string, Schema> | undefined;
  const media = content?.['application/json'];
  if (!media?.['schema']) throw new Error(`${method} ${tpl} ${status}: no application/json schema`);
  return media['schema'] as Schema;
}

/** Validate a real JSON response; returns the errors (empty when it matches the document). */
export function checkResponse(doc: Schema, path: string, method: string, status: number, body: unknown): string[] {
  return validate(doc, responseSchema(doc, path, method, status), body);
}
