// The launcher names TRAIN_LAUNCHER may take: a leaf module, so that the settings module can validate the name
// without loading the launchers (which take their settings' types from it). The registry in index.ts must hold
// exactly these: the compiler checks it.
export const LAUNCHER_NAMES = ['local', 'containerapps'] as const;

export type LauncherName = (typeof LAUNCHER_NAMES)[number];

export function isLauncherName(name: string): name is LauncherName {
  return (LAUNCHER_NAMES as readonly string[]).includes(name);
}
