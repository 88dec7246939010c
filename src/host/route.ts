// Matches request paths against Functions route templates such as `datasets/{dataset}/images`.

export interface RouteMatcher {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

/** Supports literal segments, `{name}`, `{name?}` (optional, last) and `{*rest}` (catch-all, last); constraints like `{id:int}` are checked for int/alpha. */
export function compileRoute(template: string): RouteMatcher {
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0);
  const parts = segments.map((segment) => {
    const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}$/.exec(segment);
    if (!param) return { literal: segment.toLowerCase() } as const;
    return { name: param[2]!, catchAll: param[1] === '*', constraint: param[3], optional: param[4] === '?' } as const;
  });
  return {
    template,
    match(path) {
      const pieces = path
        .replace(/^\/+|\/+$/g, '')
        .split('/')
        .filter((s) => s.length > 0);
      const params: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const piece = pieces[i];
        if ('literal' in part) {
          if (piece === undefined || piece.toLowerCase() !== part.literal) return undefined;
          continue;
        }
        if (part.catchAll) {
          params[part.name] = pieces.slice(i).map(safeDecode).join('/');
          return params;
        }
        if (piece === undefined) return part.optional ? params : undefined;
        const value = safeDecode(piece);
        if (part.constraint === 'int' && !/^-?\d+$/.test(value)) return undefined;
        if (part.constraint === 'alpha' && !/^[A-Za-z]+$/.test(value)) return undefined;
        params[part.name] = value;
      }
      return pieces.length === parts.length ? params : undefined;
    },
  };
}

function safeDecode(piece: string): string {
  try {
    return decodeURIComponent(piece);
  } catch {
    return piece;
  }
}

/**
 * The route the Functions host serves a function at: an empty (or blank) route becomes the function's name
 * (ScriptHost.ValidateHttpFunction: "if no explicit route is provided, default to the function name"), and routes
 * in the host's own space (admin..., runtime...) are refused.
 */
export function effectiveRoute(functionName: string, declared: unknown): string {
  const route = typeof declared === 'string' && declared.trim() !== '' ? declared : functionName;
  const trimmed = route.replace(/^\/+|\/+$/g, '').toLowerCase();
  if (trimmed.startsWith('admin') || trimmed.startsWith('runtime'))
    throw new Error(
      `function "${functionName}": the route "${route}" conflicts with one or more built in routes (admin, runtime)`,
    );
  return route;
}

/**
 * The order the Functions host tries routes in: by function name, case-insensitively (FunctionMetadataManager sorts
 * the functions so; WebScriptHostHttpRoutesManager maps them in that order into one RouteCollection, which takes the
 * first route that matches). Not ASP.NET Core's template precedence: a literal route loses to a parameter route
 * of a function whose name sorts first (Azure/azure-functions-host#9876, #3153).
 */
export function compareFunctionNames(a: string, b: string): number {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A path the template matches (each parameter given a plain value): to find routes an earlier one shadows. */
export function samplePath(template: string): string {
  return template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0)
    .map((segment) => {
      const param = /^\{\*?[A-Za-z_][A-Za-z0-9_]*(?::([a-z]+))?\??\}$/.exec(segment);
      if (!param) return segment;
      return param[1] === 'int' ? '1' : 'sample';
    })
    .join('/');
}
