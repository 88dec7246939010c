// Timer: on the COLLECT_SCHEDULE app setting (NCRONTAB), start a collection run for every dataset with a plan.
import { app, type InvocationContext, type Timer } from '@azure/functions';

import { messageOf } from '../src/errors';
import { appServices, type Services } from '../src/services';

export async function collectScheduled(
  timer: Timer,
  context: InvocationContext,
  { collector }: Pick<Services, 'collector'>,
): Promise<void> {
  if (timer.isPastDue) context.warn('collectScheduled: running late (the host was down at the scheduled time)');
  const datasets = await collector.listPlannedDatasets();
  for (const dataset of datasets) {
    try {
      const { runId, queries } = await collector.startRun(dataset, 'schedule');
      context.log(`collect: ${dataset}: run ${runId} started with ${queries} queries`);
    } catch (error) {
      // One dataset's broken plan must not stop the others' runs.
      context.error(`collect: ${dataset}: no run started: ${messageOf(error)}`);
    }
  }
}

app.timer('collectScheduled', {
  schedule: '%COLLECT_SCHEDULE%',
  handler: async (timer, context) => collectScheduled(timer, context, await appServices()),
});
