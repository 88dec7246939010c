// Checks a resource body written in Bicep against the wire format of an Azure SDK model: the serializer mappers of
// the SDK package, whose `serializedName`s ("properties.configuration") are the ARM property paths Bicep writes.
// Unknown and read-only properties, missing required ones, wrong literal types and values outside an enum are
// reported with their path; expressions (references, calls) cannot be judged here and pass.
import * as path from 'node:path';

import { type BicepValue, Expression, isPlainObject } from './bicep';

export interface Mapper {
  serializedName?: string;
  required?: boolean;
  readOnly?: boolean;
  defaultValue?: unknown;
  type: {
    name: string;
    className?: string;
    modelProperties?: Record<string, Mapper>;
    element?: Mapper;
    value?: Mapper;
    allowedValues?: unknown[];
  };
}

/** The composite mappers of an SDK package, by class name (they are not among the package's exports). */
export function sdkMappers(packageName: string): Record<string, Mapper> {
  const entry = require.resolve(packageName);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a file found at run time inside the package, not one of its exports
  return require(path.join(path.dirname(entry), 'models', 'mappers.js')) as Record<string, Mapper>;
}

// The properties of a model laid out as ARM sends them: flattened ones ("properties.x") nested under their parent.
type WireShape = Map<string, Mapper | WireShape>;

function wireShape(mapper: Mapper, mappers: Record<string, Mapper>): WireShape {
  const properties = modelProperties(mapper, mappers);
  const shape: WireShape = new Map();
  for (const property of Object.values(properties)) {
    const segments = (property.serializedName ?? '').split(/(?<!\\)\./).map((s) => s.replace(/\\\./g, '.'));
    let level = shape;
    for (const segment of segments.slice(0, -1)) {
      let next = level.get(segment);
      if (!(next instanceof Map)) level.set(segment, (next = new Map()));
      level = next;
    }
    level.set(segments[segments.length - 1]!, property);
  }
  return shape;
}

function modelProperties(mapper: Mapper, mappers: Record<string, Mapper>): Record<string, Mapper> {
  if (mapper.type.modelProperties) return mapper.type.modelProperties;
  const named = mapper.type.className ? mappers[mapper.type.className] : undefined;
  if (!named?.type.modelProperties) throw new Error(`the SDK has no model ${mapper.type.className ?? '(unnamed)'}`);
  return named.type.modelProperties;
}

/** Keys of a Bicep resource body that are Bicep's own, not the resource's. */
const BICEP_KEYWORDS = new Set(['parent', 'scope', 'dependsOn']);

/** Problems of a resource body (or of any value) against an SDK model, e.g. armProblems(body, 'Job', mappers). */
export function armProblems(body: BicepValue, className: string, mappers: Record<string, Mapper>): string[] {
  const model = mappers[className];
  if (!model) throw new Error(`the SDK has no model ${className}`);
  const problems: string[] = [];
  const top = isPlainObject(body)
    ? Object.fromEntries(Object.entries(body).filter(([key]) => !BICEP_KEYWORDS.has(key)))
    : body;
  checkComposite(top, wireShape(model, mappers), className, className, mappers, problems, new Set(['name']));
  return problems;
}

function check(value: BicepValue, mapper: Mapper, at: string, mappers: Record<string, Mapper>, problems: string[]) {
  if (value instanceof Expression) return;
  const type = mapper.type;
  switch (type.name) {
    case 'Composite':
      checkComposite(value, wireShape(mapper, mappers), type.className ?? 'object', at, mappers, problems);
      return;
    case 'Sequence':
      if (!Array.isArray(value)) problems.push(`${at}: must be an array`);
      else value.forEach((item, index) => check(item, type.element!, `${at}[${index}]`, mappers, problems));
      return;
    case 'Dictionary':
      if (!isPlainObject(value)) problems.push(`${at}: must be an object`);
      else for (const [key, item] of Object.entries(value)) check(item, type.value!, `${at}.${key}`, mappers, problems);
      return;
    case 'String':
    case 'Uuid':
    case 'DateTime':
      if (typeof value !== 'string') problems.push(`${at}: must be a string, not ${JSON.stringify(value)}`);
      return;
    case 'Number':
      if (typeof value !== 'number') problems.push(`${at}: must be a number, not ${JSON.stringify(value)}`);
      return;
    case 'Boolean':
      if (typeof value !== 'boolean') problems.push(`${at}: must be true or false, not ${JSON.stringify(value)}`);
      return;
    case 'Enum':
      if (!type.allowedValues?.includes(value)) {
        problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(type.allowedValues)}`);
      }
      return;
    default:
      return;
  }
}

function checkComposite(
  value: BicepValue,
  shape: WireShape,
  className: string,
  at: string,
  mappers: Record<string, Mapper>,
  problems: string[],
  writableAnyway: Set<string> = new Set(),
) {
  if (!isPlainObject(value)) {
    problems.push(`${at}: must be an object (${className})`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const property = shape.get(key);
    if (!property) {
      problems.push(`${at}.${key}: ${className} has no such property (it has ${[...shape.keys()].join(', ')})`);
    } else if (property instanceof Map) {
      checkComposite(item, property, `${className}.${key}`, `${at}.${key}`, mappers, problems);
    } else if (property.readOnly && !writableAnyway.has(key)) {
      problems.push(`${at}.${key}: is read-only in ${className}`);
    } else {
      check(item, property, `${at}.${key}`, mappers, problems);
    }
  }
  for (const [key, property] of shape) {
    if (key in value) continue;
    if (property instanceof Map) {
      const required = [...property.entries()].filter(([, inner]) => !(inner instanceof Map) && inner.required);
      if (required.length > 0)
        problems.push(`${at}.${key}: is required (it holds ${required.map(([k]) => k).join(', ')})`);
    } else if (property.required && !property.readOnly) {
      problems.push(`${at}.${key}: is required in ${className}`);
    }
  }
}
