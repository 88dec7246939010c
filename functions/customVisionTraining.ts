// /customvision/{version}/training/...: Custom Vision's training API (v3.4-preview and v3.3) as its SDK calls it:
// projects, tags, images, training, iterations, publishing, performance, quick tests and the ONNX export.
// Anonymous to the Functions host: the SDK sends a Training-Key, which the app checks itself.
import { app } from '@azure/functions';

import { customVisionHttp } from '../src/api/customVisionHttp';
import { appServices } from '../src/services';

app.http('customVisionTraining', customVisionHttp(appServices, 'training'));
