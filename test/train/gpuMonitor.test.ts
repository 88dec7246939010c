import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { startGpuMonitor } from '../../src/train/gpuMonitor';

describe('startGpuMonitor', () => {
  it('samples what nvidia-smi prints', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fake-smi-'));
    const script = path.join(dir, 'nvidia-smi');
    // Prints in nvidia-smi's CSV form (noheader, nounits), then keeps running like `-l` does.
    await writeFile(
      script,
      '#!/bin/sh\necho "NVIDIA H200, 35, 1200, 143771"\necho "NVIDIA H200, 97, 60500, 143771"\nsleep 30\n',
    );
    await chmod(script, 0o755);
    const lines: string[] = [];
    const monitor = startGpuMonitor({ command: script, log: (line) => lines.push(line) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const summary = await monitor.stop();
    expect(summary).toEqual({
      name: 'NVIDIA H200',
      samples: 2,
      meanUtilizationPercent: 66,
      peakUtilizationPercent: 97,
      peakMemoryMiB: 60500,
      totalMemoryMiB: 143771,
    });
    expect(lines[1]).toBe('gpu: NVIDIA H200 97% busy, 60500 of 143771 MiB');
  });

  it('says so when there is no nvidia-smi', async () => {
    const lines: string[] = [];
    const monitor = startGpuMonitor({ command: '/no/such/nvidia-smi', log: (line) => lines.push(line) });
    expect(await monitor.stop()).toBeUndefined();
    expect(lines).toEqual(['gpu: nvidia-smi not found, no GPU figures']);
  });
});
