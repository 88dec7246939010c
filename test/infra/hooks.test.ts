// The azd hook scripts: the POSIX ones parse (`sh -n`; PowerShell is not installed here, so the .ps1 twins are only
// cross-checked by crossCheck.test.ts), and azure.yaml runs each of them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { infraDir, repoRoot } from './bicep';

const hooksDir = path.join(infraDir, 'hooks');
const hooks = readdirSync(hooksDir).sort();

describe('azd hooks', () => {
  it('has a POSIX and a PowerShell script for each hook, each run by azure.yaml, and their shared library', () => {
    expect(hooks).toEqual([
      'lib.ps1',
      'lib.sh',
      'postdeploy.ps1',
      'postdeploy.sh',
      'preprovision.ps1',
      'preprovision.sh',
    ]);
    const azureYaml = readFileSync(path.join(repoRoot, 'azure.yaml'), 'utf8');
    for (const hook of hooks.filter((name) => !name.startsWith('lib.'))) {
      expect(azureYaml).toContain(`run: ./infra/hooks/${hook}`);
    }
  });

  it.each(hooks.filter((hook) => hook.endsWith('.sh')))('%s parses as a POSIX shell script', (hook) => {
    expect(() => execFileSync('sh', ['-n', path.join(hooksDir, hook)], { stdio: 'pipe' })).not.toThrow();
  });

  it('sh -n rejects a broken script (so the check above can fail)', () => {
    expect(() => execFileSync('sh', ['-n', '-c', 'if true; then echo'], { stdio: 'pipe' })).toThrow();
  });
});
