// The demo's progress on a terminal: one cli-progress bar per long step, with its ETA, and notes between steps.
// Without a TTY (a CI log) the bars print a line every few seconds instead of redrawing.
import { Presets, SingleBar } from 'cli-progress';

import type { DemoProgress } from './pipeline';

export function progressBars(stream: NodeJS.WriteStream = process.stdout): DemoProgress {
  let bar: SingleBar | undefined;
  let startedAt = 0;
  return {
    begin(step, total, unit) {
      bar?.stop();
      bar = new SingleBar(
        {
          format: `${step.padEnd(8)} [{bar}] {value}/{total} ${unit}  {timeLeft}  {detail}`,
          stream,
          noTTYOutput: !stream.isTTY,
          notTTYSchedule: 5000,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      startedAt = performance.now();
      bar.start(total, 0, { detail: '', timeLeft: '' });
    },
    update(done, total, detail = '') {
      bar?.setTotal(total);
      bar?.update(done, { detail, timeLeft: timeLeft(performance.now() - startedAt, done, total) });
    },
    end() {
      bar?.stop();
      bar = undefined;
    },
    note(message) {
      stream.write(`${message}\n`);
    },
  };
}

/** The time left at the rate so far (cli-progress's own ETA shows INF until its buffer fills). */
function timeLeft(elapsedInMs: number, done: number, total: number): string {
  if (done <= 0 || done >= total) return '';
  const leftInS = Math.round(((elapsedInMs / done) * (total - done)) / 1000);
  const minutes = Math.floor(leftInS / 60);
  return `ETA ${minutes > 0 ? `${minutes}m${String(leftInS % 60).padStart(2, '0')}s` : `${leftInS}s`}`;
}
