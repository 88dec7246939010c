// Checks the resources of a Bicep file against Bicep's own type data (the types.json files of Azure/bicep-types-az,
// one per namespace@apiVersion): a type and API version Bicep knows, property names it knows (with their case),
// nothing read-only set, every required property of a literal object present, and literal values among the allowed
// ones. Expressions (references, calls, interpolations) cannot be judged without evaluating them and pass; both
// branches of a ternary are checked.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Node } from 'web-tree-sitter';

import { type BicepFile, Expression, namedChildren, propertyKey, propertyValue, repoRoot, valueOf } from './bicep';

interface TypeReference {
  $ref: string;
}

interface TypeProperty {
  type: TypeReference;
  /** Bits of PropertyFlags. */
  flags: number;
  description?: string;
}

type TypeProperties = Record<string, TypeProperty>;

/** The entries of a types.json, by their `$type`. */
type AzureType =
  | { $type: 'ObjectType'; name: string; properties: TypeProperties; additionalProperties?: TypeReference }
  | {
      $type: 'DiscriminatedObjectType';
      name: string;
      discriminator: string;
      baseProperties: TypeProperties;
      elements: Record<string, TypeReference>;
    }
  | { $type: 'ArrayType'; itemType: TypeReference; minLength?: number; maxLength?: number }
  | { $type: 'UnionType'; elements: TypeReference[] }
  | { $type: 'StringLiteralType'; value: string }
  | { $type: 'StringType'; minLength?: number; maxLength?: number; pattern?: string; sensitive?: boolean }
  | { $type: 'IntegerType'; minValue?: number; maxValue?: number }
  | { $type: 'BooleanType' }
  | { $type: 'NullType' }
  | { $type: 'AnyType' }
  | { $type: 'ResourceType'; name: string; body: TypeReference; readableScopes?: number; writableScopes?: number }
  | { $type: 'ResourceFunctionType'; name: string; resourceType: string; apiVersion: string };

/** The `flags` bits of a property, as bicep-types defines them. */
const PropertyFlags = { required: 1, readOnly: 2, writeOnly: 4, deployTimeConstant: 8 } as const;

/** One types.json; its `$ref`s ("#/N") point into the same file. */
class TypeFile {
  constructor(
    readonly fileName: string,
    private readonly entries: AzureType[],
  ) {}

  resolve(reference: TypeReference): AzureType {
    const match = /^#\/(\d+)$/.exec(reference.$ref);
    const entry = match ? this.entries[Number(match[1])] : undefined;
    if (!entry) throw new Error(`${this.fileName}: cannot resolve $ref ${reference.$ref}`);
    return entry;
  }

  resourceType(typeAndVersion: string): Extract<AzureType, { $type: 'ResourceType' }> | undefined {
    const wanted = typeAndVersion.toLowerCase();
    return this.entries.find(
      (entry): entry is Extract<AzureType, { $type: 'ResourceType' }> =>
        entry.$type === 'ResourceType' && entry.name.toLowerCase() === wanted,
    );
  }
}

/** The type files of a folder, `<namespace>@<apiVersion>.json` each, read as they are asked for. */
export class AzureTypes {
  private readonly files = new Map<string, TypeFile | undefined>();

  constructor(readonly dir: string) {}

  /** The body type of `type@apiVersion`, or why there is none (which file to add). */
  resourceBody(type: string, apiVersion: string): { file: TypeFile; body: TypeReference } | { missing: string } {
    const namespace = type.split('/')[0]!.toLowerCase();
    const fileName = `${namespace}@${apiVersion}.json`;
    const source = `the types.json at generated/<provider>/${namespace}/${apiVersion}/ of Azure/bicep-types-az`;
    const file = this.file(fileName);
    if (!file) {
      return { missing: `no type data: add ${path.relative(repoRoot, path.join(this.dir, fileName))} (${source})` };
    }
    const resource = file.resourceType(`${type}@${apiVersion}`);
    if (!resource) {
      return {
        missing:
          `${fileName} has no resource type ${type}@${apiVersion}: check the type's name, or update the file ` +
          `(${source}); where Bicep has no type either, it cannot check the resource (warning BCP081)`,
      };
    }
    return { file, body: resource.body };
  }

  private file(fileName: string): TypeFile | undefined {
    if (!this.files.has(fileName)) {
      const full = path.join(this.dir, fileName);
      this.files.set(
        fileName,
        existsSync(full) ? new TypeFile(fileName, JSON.parse(readFileSync(full, 'utf8')) as AzureType[]) : undefined,
      );
    }
    return this.files.get(fileName);
  }
}

/** Keys of a resource body that are Bicep's own, not the resource type's. */
const BICEP_KEYWORDS = new Set(['scope', 'parent', 'dependsOn']);

interface CheckContext {
  file: TypeFile;
  report(node: Node, at: string, problem: string): void;
}

/**
 * Every problem of the resources a file declares, one line each:
 * `infra/app/trainer.bicep:88 job (Microsoft.App/jobs@2025-07-01): properties.x is not a property of JobProperties`.
 * `existing` resources are checked for their type only: their body names the resource, it does not describe it.
 */
export function resourceTypeProblems(bicep: BicepFile, types: AzureTypes): string[] {
  const label = path.relative(repoRoot, bicep.file).split(path.sep).join('/');
  const problems: string[] = [];
  for (const resource of bicep.declarations.resources) {
    const prefix = `${resource.symbol} (${resource.type}@${resource.apiVersion})`;
    const found = types.resourceBody(resource.type, resource.apiVersion);
    if ('missing' in found) {
      problems.push(`${label}:${resource.line} ${prefix}: ${found.missing}`);
      continue;
    }
    if (resource.existing) continue;
    const context: CheckContext = {
      file: found.file,
      report: (node, at, problem) =>
        problems.push(`${label}:${node.startPosition.row + 1} ${prefix}: ${at ? `${at} ` : ''}${problem}`),
    };
    checkValue(resource.body, found.body, '', context);
  }
  return problems;
}

function checkValue(node: Node, reference: TypeReference, at: string, context: CheckContext): void {
  if (node.type === 'parenthesized_expression') return checkValue(namedChildren(node)[0]!, reference, at, context);
  if (node.type === 'ternary_expression') {
    for (const branch of ['consequence', 'alternative']) {
      const value = node.childForFieldName(branch);
      if (value) checkValue(value, reference, at, context);
    }
    return;
  }
  const type = context.file.resolve(reference);
  const kind = literalKind(node);
  if (kind === undefined || kind === 'null' || type.$type === 'AnyType') return;
  if (type.$type === 'UnionType') return checkUnion(node, kind, type.elements, at, context);
  if (kind !== kindOfType(type)) {
    context.report(node, at, `must be ${describeType(type, context.file)}, not ${describeLiteral(node)}`);
    return;
  }
  switch (type.$type) {
    case 'ObjectType':
      return checkObject(node, type.name, type.properties, type.additionalProperties, at, context);
    case 'DiscriminatedObjectType':
      return checkDiscriminated(node, type, at, context);
    case 'ArrayType':
      if (node.type === 'for_statement') {
        const body = node.childForFieldName('body');
        if (body) checkValue(body, type.itemType, `${at}[for]`, context);
      } else {
        namedChildren(node).forEach((item, index) => checkValue(item, type.itemType, `${at}[${index}]`, context));
      }
      return;
    case 'StringLiteralType':
      if (valueOf(node) !== type.value)
        context.report(node, at, `is ${describeLiteral(node)}, not ${quote(type.value)}`);
      return;
    case 'StringType': {
      const length = (valueOf(node) as string).length;
      if (length < (type.minLength ?? 0) || length > (type.maxLength ?? Infinity)) {
        const range = `${type.minLength ?? 0} to ${type.maxLength ?? 'any number of'}`;
        context.report(node, at, `${describeLiteral(node)} is ${length} characters long, not ${range}`);
      }
      return;
    }
    case 'IntegerType': {
      const number = valueOf(node) as number;
      if (number < (type.minValue ?? -Infinity) || number > (type.maxValue ?? Infinity)) {
        context.report(node, at, `${number} is outside ${type.minValue ?? '-∞'}..${type.maxValue ?? '∞'}`);
      }
      return;
    }
  }
}

function checkUnion(node: Node, kind: LiteralKind, elements: TypeReference[], at: string, context: CheckContext) {
  const members = flattenUnion(elements, context.file);
  if (members.some((member) => member.type.$type === 'AnyType')) return;
  const ofKind = members.filter((member) => kindOfType(member.type) === kind);
  if (kind === 'object' || kind === 'array') {
    // Checked against the one member of its kind; among several, which one is meant is not for this check to guess.
    if (ofKind.length === 1) checkValue(node, ofKind[0]!.reference, at, context);
    if (ofKind.length > 0) return;
  }
  // An open union (an "extensible enum": its values and any string) takes any string, as Bicep does.
  if (ofKind.some((member) => member.type.$type !== 'StringLiteralType')) return;
  const literal = kind === 'string' ? (valueOf(node) as string) : undefined;
  const values = ofKind.flatMap((member) => (member.type.$type === 'StringLiteralType' ? [member.type.value] : []));
  if (literal !== undefined && values.includes(literal)) return;
  const sameButCase = values.find((value) => value.toLowerCase() === literal?.toLowerCase());
  const allowed = members.map((member) => describeType(member.type, context.file)).join(', ');
  const hint = sameButCase ? ` (did you mean ${quote(sameButCase)}?)` : '';
  context.report(node, at, `${describeLiteral(node)} is not one of ${allowed}${hint}`);
}

function flattenUnion(elements: TypeReference[], file: TypeFile): { reference: TypeReference; type: AzureType }[] {
  return elements.flatMap((reference) => {
    const type = file.resolve(reference);
    return type.$type === 'UnionType' ? flattenUnion(type.elements, file) : [{ reference, type }];
  });
}

function checkDiscriminated(
  node: Node,
  type: Extract<AzureType, { $type: 'DiscriminatedObjectType' }>,
  at: string,
  context: CheckContext,
): void {
  const discriminatorProperty = objectProperties(node).find(
    (property) => property.key.toLowerCase() === type.discriminator.toLowerCase(),
  );
  const value = discriminatorProperty ? valueOf(propertyValue(discriminatorProperty.node)) : undefined;
  const elementNames = Object.keys(type.elements);
  const elementName =
    typeof value === 'string'
      ? (elementNames.find((name) => name === value) ??
        elementNames.find((name) => name.toLowerCase() === value.toLowerCase()))
      : undefined;
  if (elementName) {
    // The element's own discriminator property (a string literal type) reports a value in the wrong case.
    const element = context.file.resolve(type.elements[elementName]!);
    if (element.$type !== 'ObjectType') throw new Error(`${context.file.fileName}: ${type.name}.${elementName}`);
    const properties = { ...type.baseProperties, ...element.properties };
    return checkObject(node, element.name, properties, element.additionalProperties, at, context);
  }
  const discriminatorAt = join(at, type.discriminator);
  const allowed = elementNames.map(quote).join(', ');
  if (!discriminatorProperty) {
    context.report(node, discriminatorAt, `is required in ${type.name} (one of ${allowed}) but not set`);
  } else if (typeof value === 'string') {
    context.report(discriminatorProperty.node, discriminatorAt, `${quote(value)} is not one of ${allowed}`);
  } else {
    // Not known before deployment: any element's properties may be there, and none can be required.
    const properties: TypeProperties = { ...type.baseProperties };
    for (const reference of Object.values(type.elements)) {
      const element = context.file.resolve(reference);
      if (element.$type === 'ObjectType') Object.assign(properties, element.properties);
    }
    checkObject(node, type.name, properties, undefined, at, context, false);
  }
}

function checkObject(
  node: Node,
  typeName: string,
  properties: TypeProperties,
  additionalProperties: TypeReference | undefined,
  at: string,
  context: CheckContext,
  checkRequired = true,
): void {
  const names = Object.keys(properties);
  const written = new Set<string>();
  for (const property of objectProperties(node)) {
    const value = propertyValue(property.node);
    if (property.interpolated) {
      // A key known at deployment only (`'${identity.id}': {}`): only a dictionary's value type can judge it.
      if (additionalProperties) checkValue(value, additionalProperties, `${at}[${property.key}]`, context);
      continue;
    }
    // The resource body is at the empty path: the one level where Bicep's keywords belong.
    if (at === '' && BICEP_KEYWORDS.has(property.key)) continue;
    const propertyAt = join(at, property.key);
    let name: string | undefined = properties[property.key] ? property.key : undefined;
    if (!name) {
      name = names.find((known) => known.toLowerCase() === property.key.toLowerCase());
      // ARM ignores the case of property names; Bicep warns, and the resource reads back in the type's case.
      if (name) context.report(property.node, propertyAt, `is written ${name} in ${typeName}`);
    }
    if (name) {
      written.add(name);
      const known = properties[name]!;
      if (known.flags & PropertyFlags.readOnly)
        context.report(property.node, propertyAt, `is read-only in ${typeName}`);
      else checkValue(value, known.type, propertyAt, context);
    } else if (additionalProperties) {
      checkValue(value, additionalProperties, propertyAt, context);
    } else {
      const suggestion = closest(property.key, names);
      context.report(
        property.node,
        propertyAt,
        `is not a property of ${typeName}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
      );
    }
  }
  if (!checkRequired) return;
  for (const [name, known] of Object.entries(properties)) {
    const required = known.flags & PropertyFlags.required && !(known.flags & PropertyFlags.readOnly);
    if (required && !written.has(name)) context.report(node, join(at, name), `is required in ${typeName} but not set`);
  }
}

interface ObjectProperty {
  node: Node;
  key: string;
  /** The key is an interpolated string, known at deployment only. */
  interpolated: boolean;
}

function objectProperties(object: Node): ObjectProperty[] {
  return namedChildren(object)
    .filter((child) => child.type === 'object_property')
    .map((node) => {
      const key = namedChildren(node)[0]!;
      // An identifier key is plain; a string key is plain unless interpolated.
      return { node, key: propertyKey(node), interpolated: key.type === 'string' && literalKind(key) === undefined };
    });
}

type LiteralKind = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array';

/** What a literal is; undefined for an expression (an interpolated string is one too: its value is not known). */
function literalKind(node: Node): LiteralKind | undefined {
  switch (node.type) {
    case 'string':
      return valueOf(node) instanceof Expression ? undefined : 'string';
    case 'number':
    case 'boolean':
    case 'null':
    case 'object':
    case 'array':
      return node.type;
    case 'for_statement':
      return 'array';
    default:
      return undefined;
  }
}

function kindOfType(type: AzureType): LiteralKind | undefined {
  switch (type.$type) {
    case 'ObjectType':
    case 'DiscriminatedObjectType':
      return 'object';
    case 'ArrayType':
      return 'array';
    case 'StringType':
    case 'StringLiteralType':
      return 'string';
    case 'IntegerType':
      return 'number';
    case 'BooleanType':
      return 'boolean';
    case 'NullType':
      return 'null';
    case 'AnyType':
    case 'UnionType':
      return undefined;
    default:
      throw new Error(`${type.$type} where the type of a value was expected`);
  }
}

function describeType(type: AzureType, file: TypeFile): string {
  switch (type.$type) {
    case 'StringLiteralType':
      return quote(type.value);
    case 'UnionType':
      return flattenUnion(type.elements, file)
        .map((member) => describeType(member.type, file))
        .join(' | ');
    case 'ObjectType':
    case 'DiscriminatedObjectType':
      return `an object (${type.name})`;
    case 'ArrayType':
      return 'an array';
    case 'StringType':
      return 'a string';
    case 'IntegerType':
      return 'an integer';
    case 'BooleanType':
      return 'true or false';
    default:
      return type.$type;
  }
}

function describeLiteral(node: Node): string {
  const kind = literalKind(node);
  if (kind === 'string') return quote(valueOf(node) as string);
  return kind === 'object' || kind === 'array' ? `an ${kind}` : node.text;
}

function quote(value: string): string {
  return `'${value}'`;
}

function join(at: string, key: string): string {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `[${quote(key)}]`;
  return at === '' || segment.startsWith('[') ? `${at}${segment}` : `${at}.${segment}`;
}

/** The known name nearest to a misspelt one (edit distance, case ignored), if any is near enough to be meant. */
function closest(name: string, candidates: string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.max(1, Math.floor(name.length / 3)) && (!best || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
