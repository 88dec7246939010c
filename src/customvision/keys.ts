// The keys Custom Vision's SDKs send (`Training-Key`, `Prediction-Key`; never a function key, so these routes are
// anonymous to the Functions host): checked here, in constant time, against the keys in the app settings. With
// none configured (a local `npm start`), any non-empty key is accepted, and the log says so once.
import { CustomVisionError } from './errors';
import { sameSecret } from './ids';

export type KeyKind = 'training' | 'prediction';

export interface CustomVisionKeys {
  trainingKey?: string;
  predictionKey?: string;
}

const HEADERS: Readonly<Record<KeyKind, string>> = { training: 'Training-Key', prediction: 'Prediction-Key' };

export class KeyCheck {
  #warned = false;

  constructor(
    private readonly keys: CustomVisionKeys,
    private readonly log: (message: string) => void = (message) => console.warn(message),
  ) {}

  /** Throws Custom Vision's 401 unless `given` is the configured key of its kind. */
  check(kind: KeyKind, given: string | null): void {
    const expected = kind === 'training' ? this.keys.trainingKey : this.keys.predictionKey;
    const header = HEADERS[kind];
    if (expected === undefined) {
      if (!this.#warned) {
        this.#warned = true;
        this.log(
          'customvision: CUSTOMVISION_TRAINING_KEY and CUSTOMVISION_PREDICTION_KEY are not both set: the Custom Vision API accepts any non-empty key for the one that is missing (set both to check keys)',
        );
      }
      if (given) return;
    } else if (given && sameSecret(given, expected)) {
      return;
    }
    throw new CustomVisionError(
      401,
      '401',
      `Access denied due to invalid subscription key or wrong API endpoint: send the app's ${kind} key in the ${header} header`,
    );
  }
}
