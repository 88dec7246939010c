// Reads the Bicep templates without the Bicep CLI (it downloads a binary, which these machines cannot): tree-sitter's
// Bicep grammar, run as WebAssembly, gives the syntax tree; on top of it, the syntax problems (error and missing
// nodes, and properties sharing a line without a comma, which the grammar lets through), the declarations of a
// file, and object literals as plain values, with every non-literal expression kept as its source text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { Language, type Node, Parser } from 'web-tree-sitter';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const infraDir = path.join(repoRoot, 'infra');

let parserPromise: Promise<Parser> | undefined;

async function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const wasm = path.join(path.dirname(require.resolve('tree-sitter-bicep/package.json')), 'tree-sitter-bicep.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return parserPromise;
}

/** The root node of a Bicep source's syntax tree. */
export async function parseBicep(source: string): Promise<Node> {
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree (parser without a language?)');
  return tree.rootNode;
}

export interface SyntaxProblem {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
}

/** Every syntax problem of a parsed file, in source order; none for a file the grammar accepts whole. */
export function syntaxProblems(root: Node): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const at = (node: Node, message: string) =>
    problems.push({ line: node.startPosition.row + 1, column: node.startPosition.column + 1, message });
  const visit = (node: Node): void => {
    if (node.isMissing) at(node, `missing ${node.type}`);
    else if (node.isError) at(node, `unexpected ${JSON.stringify(node.text.split('\n')[0]!.slice(0, 40))}`);
    if (node.type === 'object') {
      let previous: Node | undefined;
      for (const child of children(node)) {
        if (child.type === ',') previous = undefined;
        else if (child.type === 'object_property') {
          if (previous && previous.endPosition.row === child.startPosition.row) {
            at(child, `property "${propertyKey(child)}" follows another on the same line without a comma`);
          }
          previous = child;
        }
      }
    }
    for (const child of children(node)) visit(child);
  };
  visit(root);
  return problems;
}

/** Every .bicep file under a folder, sorted. */
export function bicepFiles(dir: string = infraDir): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return bicepFiles(full);
      return name.endsWith('.bicep') ? [full] : [];
    })
    .sort();
}

/** An expression that is not a literal (a reference, a call, an interpolated string...), as written. */
export class Expression {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type BicepValue = string | number | boolean | null | Expression | BicepValue[] | { [key: string]: BicepValue };

/** A literal as its plain value, objects and arrays recursively; anything else as an Expression. */
export function valueOf(node: Node): BicepValue {
  switch (node.type) {
    case 'string': {
      const parts = namedChildren(node);
      if (parts.some((part) => part.type === 'interpolation')) return new Expression(node.text);
      return parts.map((part) => (part.type === 'escape_sequence' ? unescape(part.text) : part.text)).join('');
    }
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'array':
      return namedChildren(node)
        .filter((item) => item.type !== 'comment')
        .map(valueOf);
    case 'object': {
      const object: { [key: string]: BicepValue } = {};
      for (const property of namedChildren(node).filter((child) => child.type === 'object_property')) {
        object[propertyKey(property)] = valueOf(propertyValue(property));
      }
      return object;
    }
    case 'parenthesized_expression':
      return valueOf(namedChildren(node)[0]!);
    default:
      return new Expression(node.text);
  }
}

/** A scalar or an Expression as its text (as String gives it); an object or an array as JSON. */
export function textOf(value: BicepValue | undefined): string {
  if (value instanceof Expression) return value.text;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

export function isPlainObject(value: BicepValue | undefined): value is { [key: string]: BicepValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Expression);
}

export interface ParameterDeclaration {
  name: string;
  hasDefault: boolean;
  /** Its decorators as written, without the @: `secure()`, `minValue(40)`, `allowed([...])`. */
  decorators: string[];
}

export interface ResourceDeclaration {
  symbol: string;
  /** e.g. Microsoft.App/jobs */
  type: string;
  apiVersion: string;
  existing: boolean;
  /** The body object (inside any `for` or `if`). */
  body: Node;
  line: number;
}

export interface ModuleDeclaration {
  symbol: string;
  /** The module's path as written, relative to the declaring file. */
  path: string;
  body: Node;
  line: number;
}

export interface Declarations {
  params: Map<string, ParameterDeclaration>;
  vars: Map<string, Node>;
  outputs: Map<string, Node>;
  resources: ResourceDeclaration[];
  modules: ModuleDeclaration[];
}

/** The top-level declarations of a parsed file. */
export function declarations(root: Node): Declarations {
  const result: Declarations = { params: new Map(), vars: new Map(), outputs: new Map(), resources: [], modules: [] };
  // The grammar gives a declaration's decorators as the node before it.
  let decorators: string[] = [];
  for (const statement of namedChildren(root)) {
    if (statement.type === 'decorators') {
      decorators = namedChildren(statement).map((decorator) => decorator.text.replace(/^@/, ''));
      continue;
    }
    const statementDecorators = decorators;
    decorators = [];
    const named = namedChildren(statement);
    const symbol = named[0]?.text ?? '';
    switch (statement.type) {
      case 'parameter_declaration':
        result.params.set(symbol, {
          name: symbol,
          hasDefault: children(statement).some((child) => child.type === '='),
          decorators: statementDecorators,
        });
        break;
      case 'variable_declaration':
        result.vars.set(symbol, named[named.length - 1]!);
        break;
      case 'output_declaration':
        result.outputs.set(symbol, named[named.length - 1]!);
        break;
      case 'resource_declaration': {
        const [type = '', apiVersion = ''] = textOf(valueOf(named[1]!)).split('@');
        result.resources.push({
          symbol,
          type,
          apiVersion,
          existing: children(statement).some((child) => child.type === 'existing'),
          body: bodyObject(named[named.length - 1]!),
          line: statement.startPosition.row + 1,
        });
        break;
      }
      case 'module_declaration':
        result.modules.push({
          symbol,
          path: textOf(valueOf(named[1]!)),
          body: bodyObject(named[named.length - 1]!),
          line: statement.startPosition.row + 1,
        });
        break;
    }
  }
  return result;
}

/** A parsed file with its declarations. */
export interface BicepFile {
  file: string;
  root: Node;
  declarations: Declarations;
}

export async function readBicepFile(file: string): Promise<BicepFile> {
  const root = await parseBicep(readFileSync(file, 'utf8'));
  return { file, root, declarations: declarations(root) };
}

/** The one resource of a type that a file declares (not `existing`); throws naming the file when not one. */
export function resourceOfType(bicep: BicepFile, type: string): ResourceDeclaration {
  const found = bicep.declarations.resources.filter((resource) => resource.type === type && !resource.existing);
  if (found.length !== 1) {
    throw new Error(
      `${path.relative(repoRoot, bicep.file)} declares ${found.length} resources of type ${type}, not one`,
    );
  }
  return found[0]!;
}

/** The value of a top-level `var` as a plain value; throws naming the file when it is not declared. */
export function variableValue(bicep: BicepFile, name: string): BicepValue {
  const node = bicep.declarations.vars.get(name);
  if (!node) throw new Error(`${path.relative(repoRoot, bicep.file)} declares no var ${name}`);
  return valueOf(node);
}

export function propertyKey(property: Node): string {
  return textOf(valueOf(namedChildren(property)[0]!));
}

/** The value of an `object_property` node (after its key and colon). */
export function propertyValue(property: Node): Node {
  const named = namedChildren(property);
  return named[named.length - 1]!;
}

// `[for x in xs: {...}]` and `if (condition) {...}` wrap a body; the body object is what ARM receives.
function bodyObject(node: Node): Node {
  if (node.type === 'for_statement' || node.type === 'if_statement') {
    return bodyObject(node.childForFieldName('body') ?? namedChildren(node)[namedChildren(node).length - 1]!);
  }
  return node;
}

function children(node: Node): Node[] {
  return node.children.filter((child): child is Node => child !== null);
}

/** The named children of a node, comments left out. */
export function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((child): child is Node => child !== null && child.type !== 'comment');
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

function unescape(sequence: string): string {
  const code = sequence.slice(1);
  if (code.startsWith('u{')) return String.fromCodePoint(parseInt(code.slice(2, -1), 16));
  return ESCAPES[code] ?? sequence;
}

/** The value at a dotted path of objects ('properties.configuration.triggerType'); undefined where there is none. */
export function pick(value: BicepValue | undefined, dotted: string): BicepValue | undefined {
  let current = value;
  for (const key of dotted.split('.')) current = isPlainObject(current) ? current[key] : undefined;
  return current;
}
