// The launchers TRAIN_LAUNCHER may name: each one's file exports its definition and this table registers it, so a
// new launcher is its file, its name in names.ts and one line here (and its settings in config.ts).
import { ConfigurationError } from '../../errors';
import { LAUNCHER_NAMES, type LauncherName } from '../../platform/launcherNames';
import { containerAppsLauncher } from './containerApps';
import type { Launcher, LauncherContext, LauncherDefinition } from './launcher';
import { localLauncher } from './local';

export { isLauncherName, LAUNCHER_NAMES, type LauncherName } from '../../platform/launcherNames';
export { ContainerAppsLauncher, type ContainerAppsLauncherOptions, containerAppsOptions } from './containerApps';
export {
  type Launched,
  type Launcher,
  type LauncherContext,
  type LauncherDefinition,
  type LaunchRequest,
  trainerEnvironment,
} from './launcher';
export { LocalLauncher, type LocalLauncherOptions } from './local';

/** Every name in names.ts, with its definition (a name missing here, or a definition under another name, fails tsc). */
const LAUNCHERS: { readonly [N in LauncherName]: LauncherDefinition<N> } = {
  local: localLauncher,
  containerapps: containerAppsLauncher,
};

/** Makes the launcher the settings name (TRAIN_LAUNCHER). */
export function createLauncher(context: LauncherContext): Launcher {
  const name = context.settings.train.launcher;
  const definition = (LAUNCHERS as Partial<Record<string, LauncherDefinition>>)[name];
  if (!definition) throw new ConfigurationError(`TRAIN_LAUNCHER must be ${LAUNCHER_NAMES.join(' or ')}, not "${name}"`);
  return definition.create(context);
}
