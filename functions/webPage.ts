// GET /: the web page (review the data, fix labels, train, read the results, try a photo). Locally it needs no key;
// on Azure it takes the function key as ?code=, which its script then sends with each API call (Easy Auth in front
// of the app is the better choice: see README, Web page).
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { errorResponse } from '../src/api/responses';
import { webFile } from '../src/api/webPage';

export async function webPage(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { body, headers } = await webFile('index.html');
    return { status: 200, body, headers };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('webPage', { methods: ['GET'], authLevel: 'function', route: '', handler: webPage });
