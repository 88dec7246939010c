// GET /assets/{name}: the web page's script and stylesheet (app.js, app.css), with the page's security headers.
// Anonymous, as the page is: the page loads them with plain <script>/<link> tags, which send no key (a keyed route
// would answer them 401, and the page would never run).
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { errorResponse } from '../src/api/responses';
import { webFile } from '../src/api/webPage';

export async function webAssets(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const name = request.params['name'] ?? '';
    if (name === 'index.html') return { status: 404, jsonBody: { error: 'NotFound', message: 'the page is at /' } };
    const { body, headers } = await webFile(name);
    return { status: 200, body, headers };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('webAssets', { methods: ['GET'], authLevel: 'anonymous', route: 'assets/{name}', handler: webAssets });
