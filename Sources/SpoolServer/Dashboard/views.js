// Rendering: small DOM helpers and the overview sections (summary, queues, dispatchers, quotas).
// Every value from the server goes in as text, never as markup.

export const STATES = ["available", "running", "scheduled", "retryable", "completed", "discarded", "cancelled"];

/** An element with attributes (`on…` functions become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "style") element.style.cssText = value;  // through the CSSOM: the page's policy refuses style attributes
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c != null && c !== false).map((c) => (c instanceof Node ? c : String(c))));
  return element;
}

/** A coloured state label. */
export const stateBadge = (state) => h("span", { class: `state s-${state}` }, h("span", { class: "dot" }), state);

export const number = (n) => (n ?? 0).toLocaleString("en-US");

/** "3 s ago", "in 5 min", or the date for older times. */
export function relative(iso) {
  if (!iso) return "";
  const seconds = (Date.parse(iso) - Date.now()) / 1000, size = Math.abs(seconds);
  const text = size < 1 ? "now" : size < 60 ? `${Math.round(size)} s` : size < 3600 ? `${Math.round(size / 60)} min`
    : size < 86400 ? `${Math.round(size / 3600)} h` : new Date(iso).toLocaleDateString();
  if (text === "now" || size >= 86400) return text;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

export function renderSummary(container, stats) {
  const cards = STATES.map((state) => h("div", { class: `card s-${state}`, dataset: { state } },
    h("div", { class: "label" }, h("span", { class: "dot" }), state), h("div", { class: "value" }, number(stats.jobs[state]))));
  const live = stats.liveDispatchers;
  cards.push(h("div", { class: "card", dataset: { state: "dispatchers" } },
    h("div", { class: "label" }, "live dispatchers"),
    h("div", { class: `value${live === 0 ? " bad" : ""}` }, number(live))));
  container.replaceChildren(...cards);
}

/** The queues table; `onToggle(queue)` pauses or resumes, `onPick(name)` filters the job list. */
export function renderQueues(tbody, queues, { onToggle, onPick }) {
  if (!queues.length) {
    tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No queues yet: enqueue a job and its queue appears here.")));
    return;
  }
  tbody.replaceChildren(...queues.map((queue) => h("tr", { class: "clickable", dataset: { queue: queue.name }, onclick: () => onPick(queue.name) },
    h("td", {}, h("strong", {}, queue.name), queue.paused ? h("span", { class: "paused" }, "paused") : null),
    ...STATES.map((state) => h("td", { class: `num${queue.counts[state] ? "" : " zero"}`, dataset: { count: state } }, number(queue.counts[state]))),
    h("td", { class: "num" }, h("button", {
      type: "button", dataset: { action: queue.paused ? "resume" : "pause", queue: queue.name },
      onclick: (event) => { event.stopPropagation(); onToggle(queue); },
    }, queue.paused ? "Resume" : "Pause")))));
}

/** A bar filled to `used` of `size`, marked full when nothing more fits. */
const usageBar = (used, size) => h("div", { class: `bar${used >= size ? " full" : ""}` },
  h("span", { style: `width: ${Math.min(100, (used / Math.max(1, size)) * 100)}%` }));

/** Fills `container` with `render(item)` for each item, or with `empty` when there are none. */
function renderList(container, items, empty, render) {
  container.replaceChildren(...(items.length ? items.map(render) : [h("div", { class: "empty" }, empty)]));
}

export function renderDispatchers(container, dispatchers) {
  renderList(container, dispatchers, "No dispatcher has registered. Start one with spool worker or spool serve.", (d) => h("div", { class: "item", dataset: { dispatcher: d.id } },
    h("div", { class: "row" },
      h("span", { class: `state s-${d.state === "active" ? "completed" : d.state === "dead" ? "discarded" : "cancelled"}` }, h("span", { class: "dot" }), d.state),
      h("span", { class: "title mono" }, d.id.slice(0, 8)),
      h("span", { class: "muted" }, `${d.host} · pid ${d.pid} · pinged ${relative(d.lastPingAt)}`)),
    ...d.agents.map((agent) => h("div", { class: "agent" },
      h("span", {}, h("strong", {}, agent.name), agent.filter ? h("span", { class: "muted" }, ` ${agent.filter}`) : null),
      usageBar(agent.running.length, agent.size),
      h("span", { class: "num muted" }, `${agent.running.length} / ${agent.size} running`)))));
}

export function renderQuotas(container, quotas) {
  renderList(container, quotas, "No quotas. Create one with spool quotas set NAME SIZE or PUT /v1/quotas/NAME.", (q) => h("div", { class: "item", dataset: { quota: q.name } },
    h("div", { class: "row" },
      h("span", { class: "title" }, q.name),
      usageBar(q.running.length, q.size),
      h("span", { class: "num muted" }, `${q.running.length} / ${q.size} in use`))));
}

/** The mirror's destination: units waiting and being applied, dead letters, and its lag. Hidden without one. */
/** How far behind a copy is, in words. */
function lagText(lag) {
  if (!lag) return "lag unknown";
  if (lag.transactions === 0) return "up to date";
  const seconds = lag.seconds === null || lag.seconds === undefined ? "" : ` (${lag.seconds.toFixed(3)} s)`;
  return `${lag.transactions} transaction${lag.transactions === 1 ? "" : "s"} behind${seconds}`;
}

/**
 * The replication panel: a primary with each secondary's lag, or a secondary with its own; a
 * report older than 5 s (of the time `at` the figures were read) means the process is not running.
 */
export function renderReplication(panel, replication, at) {
  panel.hidden = !replication;
  if (!replication) return;
  const age = (Date.parse(at) - Date.parse(replication.updatedAt)) / 1000;
  const running = age <= 5;
  panel.querySelector("#replication-note").textContent = running
    ? `${replication.role} at term ${replication.term}, transaction ${replication.transaction}`
    : `${replication.role === "primary" ? "spool replicate" : "spool secondary"} last reported ${Math.round(age)} s ago: not running`;
  const rows = replication.role === "primary"
    ? (replication.secondaries || []).map((s) => h("div", { class: "item", dataset: { secondary: s.address } },
      h("div", { class: "row" }, h("span", { class: "title mono" }, s.address), h("span", { class: "num", dataset: { lag: s.lag.transactions } }, lagText(s.lag)))))
    : [h("div", { class: "item", dataset: { primary: replication.address } },
      h("div", { class: "row" }, h("span", { class: "title mono" }, `following ${replication.address}`),
        h("span", { class: `num${replication.connected && running ? "" : " bad"}`, dataset: { lag: replication.lag ? replication.lag.transactions : "" } },
          replication.connected ? lagText(replication.lag) : `not connected (${lagText(replication.lag)} when last connected)`)))];
  renderList(panel.querySelector("#replication"), rows, replication.role === "primary" ? "No secondary connected." : "", (row) => row);
}

export function renderMirror(panel, mirror) {
  panel.hidden = !mirror;
  if (!mirror) return;
  const lag = mirror.oldestWaitingSeconds;
  panel.querySelector("#mirror").replaceChildren(h("div", { class: "item", dataset: { destination: mirror.destination } },
    h("div", { class: "row" },
      h("span", { class: "title mono" }, mirror.destination),
      h("span", { class: "num", dataset: { count: "waiting" } }, `${mirror.waiting} waiting`),
      h("span", { class: "num muted", dataset: { count: "in-flight" } }, mirror.inFlight === null || mirror.inFlight === undefined ? "" : `${mirror.inFlight} being applied`),
      h("span", { class: `num${mirror.deadLetters > 0 ? " bad" : " muted"}`, dataset: { count: "dead-letters" } }, `${mirror.deadLetters} dead-lettered`),
      h("span", { class: "num muted", dataset: { count: "lag" } }, lag === null || lag === undefined ? "no lag" : `oldest waits ${lag.toFixed(1)} s`))));
}
