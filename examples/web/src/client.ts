// A thin typed fetch client for cupi-gateway, typed by `src/api.d.ts`, which `npm run gen`
// generates from openapi/cupi-gateway.yaml (openapi-typescript). Paths, path and query
// parameters, request bodies and 200 bodies all come from the document, so a change to it that
// breaks this page breaks `tsc`. No runtime dependency: ~80 lines over `fetch`.

import type { components, paths } from "./api";

export type PortGroup = components["schemas"]["PortGroup"];
export type PortGroupList = components["schemas"]["PortGroupList"];
export type PortGroupUpdate = components["schemas"]["PortGroupUpdate"];
export type Port = components["schemas"]["Port"];
export type PortList = components["schemas"]["PortList"];
/** The one error shape of the gateway: `{"errors": [{"code", "message", "field"?}]}`. */
export type ApiError = components["schemas"]["Error"];
export type ApiErrorEntry = ApiError["errors"][number];

type Method = "get" | "put";
/** The paths of the document that have operation `M`. */
type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends { responses: object } ? P : never;
}[keyof paths];
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type PathParams<O> = O extends { parameters: { path: infer T } } ? T : undefined;
type QueryParams<O> = O extends { parameters: { query?: infer T } } ? T : undefined;
type JsonBody<O> = O extends { requestBody: { content: { "application/json": infer T } } } ? T : never;
type Ok<O> = O extends { responses: { 200: { content: { "application/json": infer T } } } } ? T : undefined;

/** What a call gives: the typed body, or the gateway's errors with the status. */
export type Result<T> = { ok: true; data: T } | { ok: false; status: number; error: ApiError };

export interface Options<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
}

export class Client {
  constructor(
    /** The gateway's origin, e.g. `http://127.0.0.1:8080`: another origin than the page's. */
    readonly base: string,
    private readonly authorization: string,
  ) {}

  static basic(base: string, username: string, password: string): Client {
    // btoa takes Latin-1 only: encode the credentials as UTF-8 first.
    const bytes = new TextEncoder().encode(`${username}:${password}`);
    const latin1 = Array.from(bytes, (b) => String.fromCharCode(b)).join("");
    return new Client(base.replace(/\/+$/, ""), `Basic ${btoa(latin1)}`);
  }

  get<P extends PathWith<"get">>(path: P, options: Options<Operation<P, "get">> = {}) {
    return this.send<Ok<Operation<P, "get">>>("GET", this.url(path, options));
  }

  put<P extends PathWith<"put">>(
    path: P,
    body: JsonBody<Operation<P, "put">>,
    options: Options<Operation<P, "put">> = {},
  ) {
    return this.send<undefined>("PUT", this.url(path, options), body);
  }

  private url(path: string, options: { path?: unknown; query?: unknown }): string {
    const params = (options.path ?? {}) as Record<string, unknown>;
    const query = (options.query ?? {}) as Record<string, unknown>;
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
    // encodeURIComponent, not URLSearchParams: CUPI wants spaces as %20, not "+".
    const pairs = Object.entries(query)
      .filter(([, value]) => value !== undefined && value !== "")
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    return this.base + filled + (pairs.length ? `?${pairs.join("&")}` : "");
  }

  /** Rejects only when the browser gives no response at all (network down, or CORS refused). */
  private async send<T>(method: string, url: string, body?: unknown): Promise<Result<T>> {
    const headers: Record<string, string> = { Accept: "application/json", Authorization: this.authorization };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      mode: "cors",
      // Basic auth on every request, and no cookies: Unity Connection's JSESSIONID would
      // authenticate on its own, so signing out or in as someone else would not take.
      // The Authorization header still makes every call a preflighted CORS request.
      credentials: "omit",
    });
    const text = await response.text();
    if (response.ok) {
      return { ok: true, data: (text ? JSON.parse(text) : undefined) as T };
    }
    let error: ApiError;
    try {
      error = JSON.parse(text) as ApiError;
      if (!Array.isArray(error?.errors)) throw new Error("not the error shape");
    } catch {
      error = { errors: [{ code: `http_${response.status}`, message: text.slice(0, 200) || response.statusText }] };
    }
    return { ok: false, status: response.status, error };
  }
}
