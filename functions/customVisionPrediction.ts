// /customvision/{version}/prediction/...: Custom Vision's prediction API (v3.1 and v3.0): classify an image or a
// URL with a published iteration. Anonymous to the Functions host: the SDK sends a Prediction-Key, which the app
// checks itself.
import { app } from '@azure/functions';

import { customVisionHttp } from '../src/api/customVisionHttp';
import { appServices } from '../src/services';

app.http('customVisionPrediction', customVisionHttp(appServices, 'prediction'));
