// src/spec/types.ts is written by hand; spec-schemas/*.schema.json is what tsrun validates
// with. Every property the schemas name must be a field of the TypeScript type at the same
// place (issue 14), so a spec field cannot be silently missing from the code's view of
// the document. Read with the TypeScript compiler API, as the compiler sees the types.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const repo = path.resolve(__dirname, '../..');
const typesFile = path.join(repo, 'src/spec/types.ts');

type Schema = { [key: string]: unknown };

/** Platforms tsrun does not implement: their objects stay untyped (Record<string, unknown>). */
const OTHER_PLATFORMS = new Set(['solaris', 'windows', 'vm', 'zos', 'freebsd']);

/**
 * Every property path a schema names: "a.b", "a[].b" for array items, "a{}.b" for map
 * values. $refs may name other files of the same directory ("defs.json#/definitions/x").
 */
function schemaPaths(dir: string, file: string): string[] {
  const docs = new Map<string, Schema>();
  const doc = (f: string): Schema => {
    if (!docs.has(f)) docs.set(f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Schema);
    return docs.get(f)!;
  };
  const out = new Set<string>();
  const walk = (f: string, s: Schema | undefined, at: string, seen: Set<Schema>): void => {
    if (!s || typeof s !== 'object' || seen.has(s)) return;
    const inner = new Set(seen).add(s);
    if (typeof s.$ref === 'string') {
      const [refFile, fragment = ''] = (s.$ref as string).split('#');
      const inFile = refFile || f;
      const target = fragment.split('/').filter(Boolean).reduce<unknown>((o, k) => (o as Schema)?.[k], doc(inFile));
      if (target === undefined) throw new Error(`${file}: ${at}: unresolved $ref ${s.$ref as string}`);
      walk(inFile, target as Schema, at, inner);
    }
    for (const k of ['oneOf', 'anyOf', 'allOf'] as const) for (const alt of (s[k] as Schema[] | undefined) ?? []) walk(f, alt, at, inner);
    for (const [name, sub] of Object.entries((s.properties as Record<string, Schema>) ?? {})) {
      const p = at ? `${at}.${name}` : name;
      out.add(p);
      if (!(at === '' && OTHER_PLATFORMS.has(name))) walk(f, sub, p, inner);
    }
    if (s.items && typeof s.items === 'object') walk(f, s.items as Schema, `${at}[]`, inner);
    for (const sub of Object.values((s.patternProperties as Record<string, Schema>) ?? {})) walk(f, sub, `${at}{}`, inner);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(f, s.additionalProperties as Schema, `${at}{}`, inner);
  };
  walk(file, doc(file), '', new Set());
  return [...out].sort();
}

const program = ts.createProgram([typesFile], { strict: true, noEmit: true, types: [] });
const checker = program.getTypeChecker();
const source = program.getSourceFile(typesFile)!;

/** The exported type (interface or alias) `name` of types.ts. */
function exported(name: string): ts.Type {
  const sym = checker.getExportsOfModule(checker.getSymbolAtLocation(source)!).find((s) => s.name === name);
  if (!sym) throw new Error(`src/spec/types.ts exports no ${name}`);
  return checker.getDeclaredTypeOfSymbol(sym);
}

/** The members of a type, undefined and null taken off. */
function parts(type: ts.Type): ts.Type[] {
  const t2 = checker.getNonNullableType(type);
  return t2.isUnion() ? t2.types : [t2];
}

/** unknown, any, or Record<string, unknown>: a value left untyped on purpose. */
const opaque = (type: ts.Type): boolean =>
  (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0 ||
  (type.getProperties().length === 0 && !!type.getStringIndexType() && opaque(type.getStringIndexType()!));

/**
 * Follow a schema path through a TypeScript type. 'ok' when every step is a declared field
 * (or lands in a value typed `unknown`: left untyped on purpose), else the first missing step.
 */
function lookup(type: ts.Type, pathText: string): string | 'ok' {
  const steps = pathText.match(/[^.[\]{}]+|\[\]|\{\}/g) ?? [];
  let current: ts.Type[] = [type];
  let done = '';
  for (const step of steps) {
    if (current.some(opaque)) return 'ok';
    const next: ts.Type[] = [];
    for (const member of current.flatMap(parts)) {
      if (opaque(member)) return 'ok';
      const found =
        step === '[]' ? member.getNumberIndexType()
        : step === '{}' ? member.getStringIndexType()
        : (() => {
            const prop = checker.getPropertyOfType(member, step);
            return prop && checker.getTypeOfSymbolAtLocation(prop, source);
          })();
      if (found) next.push(found);
    }
    if (next.length === 0) return done + (step.length > 2 || /^\w/.test(step) ? `.${step}` : step);
    done += step === '[]' || step === '{}' ? step : `.${step}`;
    current = next;
  }
  return 'ok';
}

const ours = path.join(repo, 'spec-schemas');
/** The runtime-spec's own schemas (v1.3.0, Linux and common parts), copied unchanged. */
const upstream = path.join(repo, 'test/fixtures/runtime-spec-1.3.0');
const schemas: [dir: string, file: string, typeName: string][] = [
  [ours, 'config.schema.json', 'Spec'],
  [ours, 'state.schema.json', 'State'],
  [ours, 'features.schema.json', 'Features'],
  [upstream, 'config-schema.json', 'Spec'],
  [upstream, 'state-schema.json', 'State'],
  [upstream, 'features-schema.json', 'Features'],
];

for (const [dir, file, typeName] of schemas) {
  t.test(`every property of ${path.relative(repo, dir)}/${file} is a field of ${typeName} in src/spec/types.ts`, async (t) => {
    const paths = schemaPaths(dir, file);
    t.ok(paths.length > 5, `${paths.length} property paths in the schema`);
    const type = exported(typeName);
    const missing = paths.flatMap((p) => {
      const found = lookup(type, p);
      return found === 'ok' ? [] : [`${p} (${typeName}${found} is not declared)`];
    });
    t.same(missing, [], 'none missing');
  });
}

/** p is named by one of `paths` (or a map value they describe), where "{}" stands for any one key. */
function namedBy(paths: string[], p: string): boolean {
  const maps = paths.flatMap((q) => [...q.matchAll(/\{\}/g)].map((m) => q.slice(0, m.index + 2)));
  return [...paths, ...maps].some((q) => q === p || new RegExp(`^${q.replace(/[.[\]]/g, (c) => `\\${c}`).replace(/\{\}/g, '\\.[^.[]+')}$`).test(p));
}

for (const [file, ourFile] of [['config-schema.json', 'config.schema.json'], ['state-schema.json', 'state.schema.json'], ['features-schema.json', 'features.schema.json']]) {
  t.test(`every property of the runtime-spec's ${file} is in spec-schemas/${ourFile} (validated, not only typed)`, async (t) => {
    const mine = schemaPaths(ours, ourFile);
    t.same(schemaPaths(upstream, file).filter((p) => !namedBy(mine, p)), []);
  });
}

t.test('the check finds a field that is not typed', async (t) => {
  const type = exported('Spec');
  t.equal(lookup(type, 'linux.resources.memory.limit'), 'ok');
  t.not(lookup(type, 'linux.resources.memory.noSuchField'), 'ok');
  t.not(lookup(type, 'process.rlimits[].noSuchField'), 'ok');
  t.equal(lookup(type, 'solaris.anything'), 'ok', 'Record<string, unknown> is untyped on purpose');
  t.not(lookup(exported('Features'), 'linux.noSuchField'), 'ok', 'an index signature next to fields does not declare a field');
  t.ok(schemaPaths(upstream, 'config-schema.json').includes('linux.resources.devices[].allow'), 'refs into other files followed');
  t.ok(namedBy(['linux.timeOffsets{}.secs'], 'linux.timeOffsets.boottime.secs'), '{} names any key');
  t.notOk(namedBy(['linux.timeOffsets{}.secs'], 'linux.timeOffsets.boottime.nanosecs'));
  t.notOk(namedBy(['a.b'], 'a.bc'));
  t.ok(namedBy(['linux.timeOffsets{}.secs'], 'linux.timeOffsets.boottime'), 'a map value itself');
});
