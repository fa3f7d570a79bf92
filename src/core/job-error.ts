/** An exception as the official SDK reports it: its type, message and traceback lines. */
export interface HandlerException {
  type: string;
  message: string;
  traceback: string[];
}

/**
 * The SDK's report of an exception (`{error_type, error_message, error_traceback, …}` as JSON: a failed
 * job's error, and a line the official SDK logs) read apart; undefined for any other text.
 */
export function handlerException(text: string): HandlerException | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(text) as { error_type?: unknown; error_message?: unknown; error_traceback?: unknown };
    if (parsed && typeof parsed === "object" && typeof parsed.error_message === "string") {
      return {
        type: String(parsed.error_type ?? "Error").replace(/^<class '(.*)'>$/, "$1"),
        message: parsed.error_message,
        traceback: typeof parsed.error_traceback === "string" ? parsed.error_traceback.trimEnd().split("\n") : [],
      };
    }
  } catch {
    // Not JSON after all.
  }
  return undefined;
}
