// Calls to the emulator: the console's JSON API and the client API, with the API key when one is needed.
// The key is asked for once and kept in sessionStorage, for this tab only.

const KEY = "runpod-emulator-api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY) ?? undefined;
}

let asking;

/** Shows the key dialog and resolves once a key was entered. */
function askForKey(message) {
  asking ??= new Promise((resolve) => {
    const dialog = document.getElementById("key-dialog");
    const form = document.getElementById("key-form");
    const input = document.getElementById("key-input");
    document.getElementById("key-error").textContent = message ?? "";
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    form.addEventListener("submit", function submitted(event) {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      form.removeEventListener("submit", submitted);
      dialog.close();
      asking = undefined;
      resolve();
    });
    dialog.showModal();
    input.focus();
  });
  return asking;
}

/** An error answer of the emulator, with its `{"error"}` sentence. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls `path` (absolute on this emulator); answers the parsed JSON. A 401 asks for the key and tries
 * again; any other error answer rejects with its sentence.
 */
export async function call(path, { method = "GET", body } = {}) {
  for (;;) {
    const headers = {};
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (response.status === 401) {
      await askForKey(key ? "That key was refused; enter the emulator's API key." : undefined);
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, parsed?.error ?? `${response.status} ${response.statusText}`);
    return parsed;
  }
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { error: text };
  }
}

/** The client API of one endpoint, as any client calls it. */
export const client = {
  run: (endpoint, body, sync) => call(`/v2/${encodeURIComponent(endpoint)}/${sync ? "runsync" : "run"}`, { method: "POST", body }),
  retry: (endpoint, id) => call(`/v2/${encodeURIComponent(endpoint)}/retry/${encodeURIComponent(id)}`, { method: "POST" }),
  cancel: (endpoint, id) => call(`/v2/${encodeURIComponent(endpoint)}/cancel/${encodeURIComponent(id)}`, { method: "POST" }),
  purge: (endpoint) => call(`/v2/${encodeURIComponent(endpoint)}/purge-queue`, { method: "POST" }),
};
