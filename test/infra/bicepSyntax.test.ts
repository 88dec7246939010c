// The Bicep templates parse (tree-sitter's Bicep grammar, no Bicep CLI here), and hold together across files: every
// module exists and is given exactly the parameters it declares, every abbreviation used exists, and every
// parameter of main.parameters.json is one of main.bicep's.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  bicepFiles,
  infraDir,
  isPlainObject,
  parseBicep,
  pick,
  readBicepFile,
  repoRoot,
  syntaxProblems,
  valueOf,
} from './bicep';

const relative = (file: string) => path.relative(repoRoot, file);

/** Modules of a file that do not exist, or are given parameters they do not declare or not all they require. */
async function moduleProblems(file: string): Promise<string[]> {
  const bicep = await readBicepFile(file);
  const problems: string[] = [];
  for (const module of bicep.declarations.modules) {
    const where = `${path.basename(file)}:${module.line}: module ${module.symbol}`;
    const target = path.resolve(path.dirname(file), module.path);
    if (!existsSync(target)) {
      problems.push(`${where}: ${module.path} does not exist`);
      continue;
    }
    const declared = (await readBicepFile(target)).declarations.params;
    const params = pick(valueOf(module.body), 'params');
    const given = isPlainObject(params) ? Object.keys(params) : [];
    for (const name of given.filter((name) => !declared.has(name))) {
      problems.push(`${where}: ${module.path} declares no parameter ${name}`);
    }
    for (const param of declared.values()) {
      if (!param.hasDefault && !given.includes(param.name)) {
        problems.push(`${where}: the required parameter ${param.name} of ${module.path} is not given`);
      }
    }
  }
  return problems;
}

describe('Bicep syntax', () => {
  it('finds the templates: main.bicep and its modules', () => {
    const files = bicepFiles().map(relative);
    expect(files).toContain('infra/main.bicep');
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(bicepFiles().map(relative))('%s has no syntax error', async (file) => {
    const root = await parseBicep(readFileSync(path.join(repoRoot, file), 'utf8'));
    expect(syntaxProblems(root)).toEqual([]);
  });

  it('reports broken Bicep with the line of the problem', async () => {
    const problemsOf = async (source: string) => syntaxProblems(await parseBicep(source));
    // A misspelled keyword, an unclosed array, a property with no value, two properties on one line.
    expect(await problemsOf("resouce account 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n}\n")).not.toEqual([]);
    expect(await problemsOf("param name string\nvar names = ['a', 'b'\noutput n string = name\n")).not.toEqual([]);
    expect(await problemsOf("resource a 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name:\n}\n")).toEqual([
      expect.objectContaining({ line: 2, message: expect.stringMatching(/^missing/) }),
    ]);
    expect(await problemsOf("var tags = {\n  a: 'x' b: 'y'\n}\n")).toEqual([
      { line: 2, column: 10, message: 'property "b" follows another on the same line without a comma' },
    ]);
    // What Bicep accepts stays accepted: commas on one line, decorators, loops, conditions, multi-line ternaries.
    const valid = [
      "@description('d')\nparam size int = 1",
      "var tags = { a: 'x', b: 'y' }",
      "resource c 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [\n  for n in ['a']: {\n" +
        '    name: n\n  }\n]',
      "param on bool\nvar v = on\n  ? 'a'\n  : 'b'\nmodule m 'x.bicep' = if (on) {\n  name: 'm'\n}",
    ];
    for (const source of valid) expect(await problemsOf(source)).toEqual([]);
  });
});

describe('Bicep modules and parameters', () => {
  it.each(bicepFiles().map(relative))('%s gives each module exactly its declared parameters', async (file) => {
    expect(await moduleProblems(path.join(repoRoot, file))).toEqual([]);
  });

  it('reports a missing module, an unknown parameter and a missing required one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bicep-modules-'));
    await writeFile(path.join(dir, 'child.bicep'), 'param size int\nparam name string\nparam tags object = {}\n');
    await writeFile(
      path.join(dir, 'main.bicep'),
      "module a 'child.bicep' = {\n  name: 'a'\n  params: {\n    size: 1\n    colour: 'red'\n  }\n}\n" +
        "module b 'gone.bicep' = {\n  name: 'b'\n}\n",
    );
    expect(await moduleProblems(path.join(dir, 'main.bicep'))).toEqual([
      'main.bicep:1: module a: child.bicep declares no parameter colour',
      'main.bicep:1: module a: the required parameter name of child.bicep is not given',
      'main.bicep:8: module b: gone.bicep does not exist',
    ]);
  });

  it('uses only abbreviations that abbreviations.json defines', () => {
    const abbreviations = JSON.parse(readFileSync(path.join(infraDir, 'abbreviations.json'), 'utf8')) as object;
    const used = [...readFileSync(path.join(infraDir, 'main.bicep'), 'utf8').matchAll(/\babbrs\.(\w+)/g)].map(
      (m) => m[1],
    );
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !(name! in abbreviations))).toEqual([]);
  });

  it('main.parameters.json sets only parameters of main.bicep, and every required one', async () => {
    const { parameters } = JSON.parse(readFileSync(path.join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, unknown>;
    };
    const declared = (await readBicepFile(path.join(infraDir, 'main.bicep'))).declarations.params;
    expect(Object.keys(parameters).filter((name) => !declared.has(name))).toEqual([]);
    const required = [...declared.values()].filter((param) => !param.hasDefault).map((param) => param.name);
    expect(required.filter((name) => !(name in parameters))).toEqual([]);
  });
});
