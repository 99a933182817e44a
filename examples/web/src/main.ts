// The page's behaviour (index.html): sign in with Basic credentials, list port groups a page at a
// time, search them by display name, show one group with its ports, and edit its MWI codes,
// with each validation error of the gateway shown next to the field it names. Plain DOM, no
// framework; the page's state (gateway, search, page, open group) lives in the URL, so a reload
// comes back to the same view after signing in again. Credentials are kept in memory only.

import { Client, type ApiError, type ApiErrorEntry, type PortGroup, type PortGroupUpdate, type Result } from "./client.js";

const ROWS_PER_PAGE = 10;
const EDITABLE = ["MwiOnCode", "MwiOffCode"] as const;
type Editable = (typeof EDITABLE)[number];

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
};

/** The view, mirrored in the URL's query string. */
interface View {
  gateway: string;
  search: string;
  page: number;
  group: string | null;
}

function readView(): View {
  const params = new URLSearchParams(location.search);
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return {
    gateway: params.get("gateway") || "http://127.0.0.1:8080",
    search: params.get("q") ?? "",
    page: Number.isFinite(page) && page > 0 ? page : 1,
    group: params.get("group"),
  };
}

function writeView(view: View): void {
  const params = new URLSearchParams({ gateway: view.gateway });
  if (view.search) params.set("q", view.search);
  if (view.page > 1) params.set("page", String(view.page));
  if (view.group) params.set("group", view.group);
  history.replaceState(null, "", `?${params}`);
}

let view = readView();
let client: Client | null = null;
let totalPages = 1;

// ---- errors ----

function showBanner(message: string): void {
  const banner = $("banner");
  banner.textContent = message;
  banner.hidden = false;
}

function clearBanner(): void {
  $("banner").hidden = true;
  $("banner").textContent = "";
}

function describe(error: ApiError): string {
  return error.errors.map((e) => `${e.message} (${e.code})`).join("; ");
}

/** A fetch that got no response: the gateway is down, or the browser refused the answer (CORS). */
function unreachable(error: unknown): string {
  return (
    `No answer from the gateway at ${view.gateway}: ${String(error)}. Either it is not running, ` +
    `or it does not allow this page's origin (${location.origin}); start it with ` +
    `--cors-allow-origin ${location.origin}.`
  );
}

/** Runs a call; a failure other than a refused form is shown in the banner. */
async function call<T>(request: () => Promise<Result<T>>): Promise<Result<T> | null> {
  try {
    const result = await request();
    if (!result.ok && result.status === 401) {
      signOut("The gateway answered 401: wrong user name or password.");
      return null;
    }
    return result;
  } catch (error) {
    showBanner(unreachable(error));
    return null;
  }
}

// ---- signing in ----

function signOut(message = ""): void {
  client = null;
  $("app").hidden = true;
  $("signed-in").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $<HTMLInputElement>("password").value = "";
}

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  clearBanner();
  $("login-error").textContent = "";
  const gateway = $<HTMLInputElement>("gateway").value.trim().replace(/\/+$/, "");
  const username = $<HTMLInputElement>("username").value;
  const password = $<HTMLInputElement>("password").value;
  try {
    new URL(gateway);
  } catch {
    $("login-error").textContent = `"${gateway}" is not a URL such as http://127.0.0.1:8080.`;
    return;
  }
  view.gateway = gateway;
  showGateway();
  client = Client.basic(gateway, username, password);
  if (!(await loadGroups())) return;
  $("login").hidden = true;
  $("app").hidden = false;
  $("signed-in-user").textContent = username;
  $("signed-in").hidden = false;
  if (view.group) await openGroup(view.group);
}

function showGateway(): void {
  const link = $<HTMLAnchorElement>("gateway-link");
  link.textContent = view.gateway;
  link.href = `${view.gateway}/docs`;
  $<HTMLInputElement>("gateway").value = view.gateway;
}

// ---- the list ----

function searchQuery(search: string): string | undefined {
  return search ? `(DisplayName startswith ${search})` : undefined;
}

/** Loads the current page of port groups; false when nothing could be shown. */
async function loadGroups(): Promise<boolean> {
  if (!client) return false;
  const api = client;
  const result = await call(() =>
    api.get("/vmrest/portgroups", {
      query: {
        query: searchQuery(view.search),
        sort: "(DisplayName asc)",
        rowsPerPage: ROWS_PER_PAGE,
        pageNumber: view.page,
      },
    }),
  );
  if (!result) return false;
  if (!result.ok) {
    showBanner(`Listing port groups failed (${result.status}): ${describe(result.error)}`);
    return false;
  }
  const { "@total": total, PortGroup: groups } = result.data;
  totalPages = Math.max(1, Math.ceil(total / ROWS_PER_PAGE));
  const rows = $("groups-rows");
  rows.replaceChildren(...groups.map(groupRow));
  const first = total === 0 ? 0 : (view.page - 1) * ROWS_PER_PAGE + 1;
  const last = (view.page - 1) * ROWS_PER_PAGE + groups.length;
  const matching = view.search ? ` whose name starts with “${view.search}”` : "";
  $("groups-caption").textContent =
    total === 0 ? `No port groups${matching}.` : `${first}–${last} of ${total} port groups${matching}`;
  $("page-info").textContent = `Page ${view.page} of ${totalPages}`;
  $<HTMLButtonElement>("prev").disabled = view.page <= 1;
  $<HTMLButtonElement>("next").disabled = view.page >= totalPages;
  writeView(view);
  return true;
}

function groupRow(group: PortGroup): HTMLTableRowElement {
  // The document marks no field of a port group as required; CUPI always sends ObjectId.
  const objectId = group.ObjectId ?? "";
  const row = document.createElement("tr");
  row.dataset.testid = "group-row";
  row.dataset.objectId = objectId;
  if (objectId === view.group) row.setAttribute("aria-current", "true");
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = group.DisplayName ?? objectId;
  open.dataset.testid = "group-open";
  open.addEventListener("click", () => void openGroup(objectId));
  row.insertCell().append(open);
  for (const value of [group.MediaSwitchDisplayName, group.PortCount, group.MwiOnCode, group.MwiOffCode]) {
    row.insertCell().textContent = value === null || value === undefined ? "" : String(value);
  }
  return row;
}

async function goToPage(page: number): Promise<void> {
  view.page = Math.min(Math.max(1, page), totalPages);
  await loadGroups();
}

async function search(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  view.search = $<HTMLInputElement>("search").value.trim();
  view.page = 1;
  await loadGroups();
}

// ---- one group, its ports, and the edit form ----

async function openGroup(objectId: string): Promise<void> {
  if (!client) return;
  const api = client;
  clearBanner();
  const [group, ports] = await Promise.all([
    call(() => api.get("/vmrest/portgroups/{objectId}", { path: { objectId } })),
    call(() => api.get("/vmrest/ports", { query: { query: `(MediaPortGroupObjectId is ${objectId})` } })),
  ]);
  if (!group || !ports) return;
  if (!group.ok) {
    showBanner(`Port group ${objectId}: ${describe(group.error)}`);
    return;
  }
  view.group = objectId;
  writeView(view);
  for (const row of $("groups-rows").querySelectorAll("tr")) {
    if (row.dataset.objectId === objectId) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
  showGroup(group.data);
  if (!ports.ok) {
    showBanner(`Ports of ${group.data.DisplayName ?? objectId}: ${describe(ports.error)}`);
    return;
  }
  $("ports-caption").textContent = `${ports.data["@total"]} ports in ${group.data.DisplayName ?? objectId}`;
  $("ports-rows").replaceChildren(
    ...ports.data.Port.map((port) => {
      const row = document.createElement("tr");
      row.dataset.testid = "port-row";
      row.dataset.portGroup = port.MediaPortGroupObjectId ?? "";
      for (const value of [port.PortNumInGroup, port.DisplayName, port.SkinnyDeviceName, port.CapEnabled, port.CapMWI]) {
        row.insertCell().textContent = typeof value === "boolean" ? (value ? "yes" : "no") : String(value ?? "");
      }
      return row;
    }),
  );
}

function showGroup(group: PortGroup): void {
  $("detail").hidden = false;
  $("detail").dataset.objectId = group.ObjectId ?? "";
  $("detail-title").textContent = group.DisplayName ?? "";
  $("detail-id").textContent = `ObjectId ${group.ObjectId ?? "?"} · phone system ${group.MediaSwitchDisplayName ?? "?"}`;
  for (const name of EDITABLE) {
    $<HTMLInputElement>(name).value = group[name] ?? "";
  }
  $("save-status").textContent = "";
  showErrors([]);
  $<HTMLTextAreaElement>("raw-body").value = JSON.stringify({ MwiOnCode: group.MwiOnCode, MwiOffCode: group.MwiOffCode });
}

/** Each error naming an editable field goes under that field; the rest in the list below. */
function showErrors(errors: ApiErrorEntry[]): void {
  const general: string[] = [];
  for (const name of EDITABLE) {
    $(`${name}-error`).textContent = "";
    $(name).removeAttribute("aria-invalid");
  }
  for (const error of errors) {
    const field = typeof error.field === "string" ? error.field : "";
    if ((EDITABLE as readonly string[]).includes(field)) {
      const slot = $(`${field}-error`);
      slot.textContent = [slot.textContent, error.message].filter(Boolean).join(" ");
      $(field).setAttribute("aria-invalid", "true");
    } else {
      general.push(field ? `${field}: ${error.message}` : `${error.message} (${error.code})`);
    }
  }
  $("form-errors").replaceChildren(
    ...general.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
}

async function save(body: PortGroupUpdate): Promise<void> {
  const objectId = view.group;
  if (!client || !objectId) return;
  const api = client;
  $("save-status").textContent = "Saving…";
  const result = await call(() => api.put("/vmrest/portgroups/{objectId}", body, { path: { objectId } }));
  if (!result) {
    $("save-status").textContent = "";
    return;
  }
  if (!result.ok) {
    $("save-status").textContent = "";
    showErrors(result.error.errors);
    return;
  }
  // 204: read the group back, so what is shown is what Unity Connection now holds.
  await Promise.all([openGroup(objectId), loadGroups()]);
  $("save-status").textContent = "Saved.";
}

function saveForm(event: SubmitEvent): void {
  event.preventDefault();
  const value = (name: Editable) => $<HTMLInputElement>(name).value.trim();
  void save({ MwiOnCode: value("MwiOnCode"), MwiOffCode: value("MwiOffCode") });
}

function saveRaw(): void {
  let body: unknown;
  try {
    body = JSON.parse($<HTMLTextAreaElement>("raw-body").value);
  } catch (error) {
    showErrors([{ code: "not_json", message: `The body is not JSON: ${String(error)}` }]);
    return;
  }
  // Deliberately unchecked here: the gateway is the judge of what a PUT may hold.
  void save(body as PortGroupUpdate);
}

// ---- wiring ----

showGateway();
$<HTMLFormElement>("login-form").addEventListener("submit", (event) => void signIn(event));
$("sign-out").addEventListener("click", () => signOut());
$<HTMLFormElement>("search-form").addEventListener("submit", (event) => void search(event));
$("search-clear").addEventListener("click", () => {
  $<HTMLInputElement>("search").value = "";
  view.search = "";
  view.page = 1;
  void loadGroups();
});
$<HTMLInputElement>("search").value = view.search;
$("prev").addEventListener("click", () => void goToPage(view.page - 1));
$("next").addEventListener("click", () => void goToPage(view.page + 1));
$<HTMLFormElement>("edit-form").addEventListener("submit", saveForm);
$("raw-send").addEventListener("click", saveRaw);
document.documentElement.dataset.ready = "true";
