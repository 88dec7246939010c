// GET /: the web page (review the data, fix labels, train, read the results, try a photo). Anonymous, as are its
// script and stylesheet (functions/webAssets.ts): they hold no data, and every API call the page makes still needs
// the function key, which the page asks for when the API answers 401 (or takes as ?code=; see README, Web page).
//
// Why a catch-all: the Functions host turns an empty route into the function's name (ScriptHost.ValidateHttpFunction
// in Azure/azure-functions-host), so `route: ''` would serve /webPage, and `/` with no function for it is the host's
// home page (204 with AzureWebJobsDisableHomepage). `{*path}` matches every path, the empty one too, with host.json's
// routePrefix empty; the host's own /admin and /runtime/webhooks routes come first (MVC before the functions' router),
// and the functions' routes are tried in function-name order (first match wins), so this one must sort after every
// other GET route: test/host/strictHost.test.ts checks that no route is shadowed. Any path but `/` is a JSON 404.
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { errorResponse } from '../src/api/responses';
import { webFile } from '../src/api/webPage';
import { NotFoundError } from '../src/errors';

export async function webPage(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    if ((request.params['path'] ?? '') !== '') {
      throw new NotFoundError(`no function serves ${new URL(request.url).pathname}`);
    }
    const { body, headers } = await webFile('index.html');
    return { status: 200, body, headers };
  } catch (error) {
    return errorResponse(error, (message) => context.error(message));
  }
}

app.http('webPage', { methods: ['GET'], authLevel: 'anonymous', route: '{*path}', handler: webPage });
