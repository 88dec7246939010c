// Samples GPU utilisation and memory with nvidia-smi while a job runs, into the job's log and metrics.
// Where there is no nvidia-smi (no NVIDIA GPU), it says so once and records nothing.
import { type ChildProcess, spawn } from 'node:child_process';

export interface GpuSummary {
  name: string;
  samples: number;
  meanUtilizationPercent: number;
  peakUtilizationPercent: number;
  peakMemoryMiB: number;
  totalMemoryMiB: number;
}

export interface GpuMonitor {
  stop(): Promise<GpuSummary | undefined>;
}

export function startGpuMonitor(options: {
  intervalInSeconds?: number;
  log: (message: string) => void;
  command?: string;
}): GpuMonitor {
  const samples: { name: string; utilization: number; memoryUsed: number; memoryTotal: number }[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  try {
    child = spawn(
      options.command ?? 'nvidia-smi',
      [
        '--query-gpu=name,utilization.gpu,memory.used,memory.total',
        '--format=csv,noheader,nounits',
        '-l',
        String(options.intervalInSeconds ?? 5),
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch {
    child = undefined;
  }
  if (child) {
    exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => {
        options.log('gpu: nvidia-smi not found, no GPU figures');
        resolve();
      });
    });
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [name, utilization, memoryUsed, memoryTotal] = line.split(',').map((field) => field.trim());
        if (!name || utilization === undefined || memoryUsed === undefined || memoryTotal === undefined) continue;
        const sample = {
          name,
          utilization: Number(utilization),
          memoryUsed: Number(memoryUsed),
          memoryTotal: Number(memoryTotal),
        };
        if ([sample.utilization, sample.memoryUsed, sample.memoryTotal].some((v) => !Number.isFinite(v))) continue;
        samples.push(sample);
        options.log(
          `gpu: ${sample.name} ${sample.utilization}% busy, ${sample.memoryUsed} of ${sample.memoryTotal} MiB`,
        );
      }
    });
  }
  return {
    async stop() {
      if (child && child.exitCode === null && !child.killed) child.kill('SIGTERM');
      await exited;
      if (samples.length === 0) return undefined;
      return {
        name: samples[0]!.name,
        samples: samples.length,
        meanUtilizationPercent: samples.reduce((sum, s) => sum + s.utilization, 0) / samples.length,
        peakUtilizationPercent: Math.max(...samples.map((s) => s.utilization)),
        peakMemoryMiB: Math.max(...samples.map((s) => s.memoryUsed)),
        totalMemoryMiB: samples[0]!.memoryTotal,
      };
    },
  };
}
