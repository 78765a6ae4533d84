/**
 * One schema source for config and profiles: it validates (reporting every problem with its
 * field path), gives the TypeScript type through `Infer`, and emits the JSON Schema that
 * technicians' editors use. Absent means absent: a field gets a value only from the file or
 * from an explicit `withDefault`.
 */
export interface Problem {
  path: string;
  message: string;
}

export abstract class Schema<T> {
  declare readonly _type: T;
  description?: string;
  abstract check(value: unknown, path: string, problems: Problem[]): T | undefined;
  abstract jsonSchema(): Record<string, unknown>;
  describe(text: string): this {
    this.description = text;
    return this;
  }
  protected withDescription(s: Record<string, unknown>): Record<string, unknown> {
    return this.description ? { description: this.description, ...s } : s;
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

class StringSchema<T extends string = string> extends Schema<T> {
  constructor(private readonly opts: { minLength?: number; maxLength?: number; pattern?: RegExp; patternHint?: string } = {}) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    if (typeof v !== 'string') return void problems.push({ path, message: `expected a string, got ${kindOf(v)}` });
    const { minLength, maxLength, pattern, patternHint } = this.opts;
    if (minLength !== undefined && v.length < minLength)
      return void problems.push({ path, message: `expected at least ${minLength} characters` });
    if (maxLength !== undefined && v.length > maxLength)
      return void problems.push({ path, message: `expected at most ${maxLength} characters` });
    if (pattern && !pattern.test(v))
      return void problems.push({ path, message: `expected ${patternHint ?? `a string matching ${pattern}`}, got ${JSON.stringify(v)}` });
    return v as T;
  }
  jsonSchema() {
    const s: Record<string, unknown> = { type: 'string' };
    if (this.opts.minLength !== undefined) s.minLength = this.opts.minLength;
    if (this.opts.maxLength !== undefined) s.maxLength = this.opts.maxLength;
    if (this.opts.pattern) s.pattern = this.opts.pattern.source;
    return this.withDescription(s);
  }
}

class EnumSchema<T extends string> extends Schema<T> {
  constructor(private readonly values: readonly T[]) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    if (typeof v === 'string' && (this.values as readonly string[]).includes(v)) return v as T;
    problems.push({ path, message: `expected one of ${this.values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}` });
    return undefined;
  }
  jsonSchema() {
    return this.withDescription({ enum: [...this.values] });
  }
}

class NumberSchema extends Schema<number> {
  constructor(private readonly opts: { integer?: boolean; min?: number; max?: number } = {}) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): number | undefined {
    const { integer, min, max } = this.opts;
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
      return void problems.push({ path, message: `expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}` });
    if (min !== undefined && v < min) return void problems.push({ path, message: `expected ≥ ${min}, got ${v}` });
    if (max !== undefined && v > max) return void problems.push({ path, message: `expected ≤ ${max}, got ${v}` });
    return v;
  }
  jsonSchema() {
    const s: Record<string, unknown> = { type: this.opts.integer ? 'integer' : 'number' };
    if (this.opts.min !== undefined) s.minimum = this.opts.min;
    if (this.opts.max !== undefined) s.maximum = this.opts.max;
    return this.withDescription(s);
  }
}

class BooleanSchema extends Schema<boolean> {
  check(v: unknown, path: string, problems: Problem[]): boolean | undefined {
    if (typeof v === 'boolean') return v;
    problems.push({ path, message: `expected true or false, got ${JSON.stringify(v)}` });
    return undefined;
  }
  jsonSchema() {
    return this.withDescription({ type: 'boolean' });
  }
}

class LiteralSchema<T extends string | number | boolean> extends Schema<T> {
  constructor(private readonly value: T) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    if (v === this.value) return v as T;
    problems.push({ path, message: `expected ${JSON.stringify(this.value)}, got ${JSON.stringify(v)}` });
    return undefined;
  }
  jsonSchema() {
    return this.withDescription({ const: this.value });
  }
}

class ScalarSchema extends Schema<string | number | boolean> {
  check(v: unknown, path: string, problems: Problem[]): string | number | boolean | undefined {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
    problems.push({ path, message: `expected a string, number or boolean, got ${kindOf(v)}` });
    return undefined;
  }
  jsonSchema() {
    return this.withDescription({ type: ['string', 'number', 'boolean'] });
  }
}

class ArraySchema<T> extends Schema<T[]> {
  constructor(private readonly item: Schema<T>, private readonly opts: { minItems?: number; maxItems?: number } = {}) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T[] | undefined {
    if (!Array.isArray(v)) return void problems.push({ path, message: `expected an array, got ${kindOf(v)}` });
    if (this.opts.minItems !== undefined && v.length < this.opts.minItems)
      problems.push({ path, message: `expected at least ${this.opts.minItems} item(s)` });
    if (this.opts.maxItems !== undefined && v.length > this.opts.maxItems)
      problems.push({ path, message: `expected at most ${this.opts.maxItems} item(s)` });
    const before = problems.length;
    const out = v.map((x, i) => this.item.check(x, join(path, i), problems));
    return problems.length === before ? (out as T[]) : undefined;
  }
  jsonSchema() {
    const s: Record<string, unknown> = { type: 'array', items: this.item.jsonSchema() };
    if (this.opts.minItems !== undefined) s.minItems = this.opts.minItems;
    if (this.opts.maxItems !== undefined) s.maxItems = this.opts.maxItems;
    return this.withDescription(s);
  }
}

class RecordSchema<T> extends Schema<Record<string, T>> {
  constructor(private readonly value: Schema<T>, private readonly keyPattern?: RegExp) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): Record<string, T> | undefined {
    if (kindOf(v) !== 'object') return void problems.push({ path, message: `expected an object, got ${kindOf(v)}` });
    const out: Record<string, T> = {};
    const before = problems.length;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (this.keyPattern && !this.keyPattern.test(k)) {
        problems.push({ path: join(path, k), message: `key does not match ${this.keyPattern}` });
        continue;
      }
      const r = this.value.check(x, join(path, k), problems);
      if (r !== undefined) out[k] = r;
    }
    return problems.length === before ? out : undefined;
  }
  jsonSchema() {
    const s: Record<string, unknown> = { type: 'object', additionalProperties: this.value.jsonSchema() };
    if (this.keyPattern) s.propertyNames = { pattern: this.keyPattern.source };
    return this.withDescription(s);
  }
}

class OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional = true;
  constructor(readonly inner: Schema<T>) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    return v === undefined ? undefined : this.inner.check(v, path, problems);
  }
  jsonSchema() {
    return this.inner.jsonSchema();
  }
}

class DefaultSchema<T> extends Schema<T> {
  readonly hasDefault = true;
  constructor(readonly inner: Schema<T>, readonly fallback: T) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    return v === undefined ? structuredClone(this.fallback) : this.inner.check(v, path, problems);
  }
  jsonSchema() {
    return { ...this.inner.jsonSchema(), default: this.fallback };
  }
}

class UnionSchema<T> extends Schema<T> {
  /** `tag` names the discriminating field, so errors come from the matching branch only. */
  constructor(private readonly tag: string, private readonly branches: Record<string, Schema<T>>) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): T | undefined {
    if (kindOf(v) !== 'object') return void problems.push({ path, message: `expected an object, got ${kindOf(v)}` });
    const t = (v as Record<string, unknown>)[this.tag];
    const branch = typeof t === 'string' ? this.branches[t] : undefined;
    if (!branch) {
      problems.push({ path: join(path, this.tag), message: `expected one of ${Object.keys(this.branches).map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(t)}` });
      return undefined;
    }
    return branch.check(v, path, problems);
  }
  jsonSchema() {
    return this.withDescription({ oneOf: Object.values(this.branches).map((b) => b.jsonSchema()) });
  }
}

type Props = Record<string, Schema<unknown>>;
type OptionalKeys<P extends Props> = { [K in keyof P]: P[K] extends OptionalSchema<unknown> ? K : never }[keyof P];
type RequiredKeys<P extends Props> = Exclude<keyof P, OptionalKeys<P>>;
export type ObjectOf<P extends Props> = { [K in RequiredKeys<P>]: Infer<P[K]> } & { [K in OptionalKeys<P>]?: Infer<P[K]> };
type Simplify<T> = { [K in keyof T]: T[K] } & {};

class ObjectSchema<P extends Props> extends Schema<Simplify<ObjectOf<P>>> {
  constructor(readonly props: P, private readonly opts: { allowKeys?: RegExp } = {}) {
    super();
  }
  check(v: unknown, path: string, problems: Problem[]): Simplify<ObjectOf<P>> | undefined {
    if (kindOf(v) !== 'object') return void problems.push({ path, message: `expected an object, got ${kindOf(v)}` });
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    const before = problems.length;
    for (const key of Object.keys(input)) {
      if (!(key in this.props) && !this.opts.allowKeys?.test(key))
        problems.push({ path: join(path, key), message: `unknown key (expected one of: ${Object.keys(this.props).join(', ')})` });
    }
    for (const [key, schema] of Object.entries(this.props)) {
      const x = input[key];
      if (x === undefined && !(schema instanceof OptionalSchema) && !(schema instanceof DefaultSchema)) {
        problems.push({ path: join(path, key), message: 'is required' });
        continue;
      }
      const r = schema.check(x, join(path, key), problems);
      if (r !== undefined) out[key] = r;
    }
    return problems.length === before ? (out as Simplify<ObjectOf<P>>) : undefined;
  }
  jsonSchema() {
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    for (const [key, schema] of Object.entries(this.props)) {
      properties[key] = schema.jsonSchema();
      if (!(schema instanceof OptionalSchema) && !(schema instanceof DefaultSchema)) required.push(key);
    }
    const s: Record<string, unknown> = { type: 'object', properties, additionalProperties: false };
    if (this.opts.allowKeys) s.patternProperties = { [this.opts.allowKeys.source]: {} };
    if (required.length) s.required = required;
    return this.withDescription(s);
  }
}

export const s = {
  string: (opts?: ConstructorParameters<typeof StringSchema>[0]) => new StringSchema(opts),
  enum: <const T extends string>(values: readonly T[]) => new EnumSchema<T>(values),
  number: (opts?: { min?: number; max?: number }) => new NumberSchema(opts),
  int: (opts?: { min?: number; max?: number }) => new NumberSchema({ ...opts, integer: true }),
  boolean: () => new BooleanSchema(),
  scalar: () => new ScalarSchema(),
  literal: <const T extends string | number | boolean>(value: T) => new LiteralSchema<T>(value),
  array: <T>(item: Schema<T>, opts?: { minItems?: number; maxItems?: number }) => new ArraySchema(item, opts),
  record: <T>(value: Schema<T>, keyPattern?: RegExp) => new RecordSchema(value, keyPattern),
  object: <P extends Props>(props: P, opts?: { allowKeys?: RegExp }) => new ObjectSchema(props, opts),
  optional: <T>(inner: Schema<T>) => new OptionalSchema(inner),
  withDefault: <T>(inner: Schema<T>, fallback: NoInfer<T>) => new DefaultSchema<T>(inner, fallback),
  union: <B extends Record<string, Schema<any>>>(tag: string, branches: B) => new UnionSchema<Infer<B[keyof B]>>(tag, branches as Record<string, Schema<Infer<B[keyof B]>>>),
};

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
