// Talking to the server: JSON requests with the page's cookie, and the live event stream.

/** The server refused the request for want of the token. */
export class SignedOut extends Error {}

/** GETs or POSTs `path` and returns the parsed JSON; throws with the server's message. */
export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new SignedOut("the server needs its token");
  const text = await response.text();
  const document = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(document?.error?.message ?? `${method} ${path} answered ${response.status}`);
  return document;
}

/**
 * The `/v1/events` WebSocket, reconnected with backoff (0.5 s doubling to 10 s).
 * `onMessage` gets each parsed message; `onState` gets "live", "reconnecting" or "offline".
 */
export class EventStream {
  constructor(onMessage, onState) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.delay = 500;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/events`);
    socket.onopen = () => { this.delay = 500; this.onState("live"); };
    socket.onmessage = (message) => {
      try { this.onMessage(JSON.parse(message.data)); } catch (error) { console.error("bad event", error); }
    };
    socket.onclose = () => {
      this.onState(this.delay >= 10000 ? "offline" : "reconnecting");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
  }
}
