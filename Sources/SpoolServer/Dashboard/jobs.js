// The job list (filters, paging, live rows) and the job detail drawer with its actions.
import { api } from "./api.js";
import { h, number, relative, stateBadge, STATES } from "./views.js";

const PAGE = 50, MAX_ROWS = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class JobList {
  constructor({ tbody, more, note, form, onOpen, onError }) {
    Object.assign(this, { tbody, more, note, form, onOpen, onError });
    this.rows = new Map();
    this.cursor = null;
    this.pending = new Map();
    this.frame = 0;
    form.state.append(...STATES.map((s) => h("option", { value: s }, s)));
    form.addEventListener("change", () => this.load());
    let typing = 0;
    form.name.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => this.search(), 300); });
    form.addEventListener("submit", (event) => { event.preventDefault(); this.search(); });
    more.addEventListener("click", () => this.load({ append: true }));
  }

  get filters() {
    const name = this.form.name.value.trim();
    return { queue: this.form.queue.value, state: this.form.state.value, name: UUID.test(name) ? "" : name };
  }

  /** Offers the queues seen so far in the queue filter. */
  setQueues(names) {
    const select = this.form.queue, current = select.value;
    const known = [...select.options].slice(1).map((o) => o.value);
    if (known.join("\n") === names.join("\n")) return;
    select.replaceChildren(h("option", { value: "" }, "All queues"), ...names.map((n) => h("option", { value: n }, n)));
    select.value = names.includes(current) ? current : "";
  }

  showQueue(name) {
    this.form.queue.value = name;
    this.load();
    this.tbody.closest("section").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  search() {
    const text = this.form.name.value.trim();
    if (UUID.test(text)) this.onOpen(text.toLowerCase());
    this.load();
  }

  async load({ append = false } = {}) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const [key, value] of Object.entries(this.filters)) if (value) query.set(key, value);
    if (append && this.cursor) query.set("cursor", this.cursor);
    try {
      const page = await api(`/v1/jobs?${query}`);
      if (!append) { this.rows.clear(); this.tbody.replaceChildren(); }
      for (const job of page.jobs) this.place(job, { atEnd: true });
      this.cursor = page.nextCursor;
      this.more.hidden = !this.cursor;
      this.updateNote();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Takes a job from an event; row changes are applied once per animation frame. */
  apply(type, job) {
    this.pending.set(job.id, { type, job });
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const { queue, state, name } = this.filters;
    for (const { type, job } of this.pending.values()) {
      const matches = (!queue || job.queue === queue) && (!state || job.state === state) && (!name || job.name === name);
      const row = this.rows.get(job.id);
      if (row && !matches) { row.remove(); this.rows.delete(job.id); continue; }
      if (row) this.place(job, { flash: true });
      else if (matches && (type === "job.enqueued" || state)) this.place(job, { flash: true, atTop: true });
    }
    this.pending.clear();
    while (this.rows.size > MAX_ROWS) {
      const last = this.tbody.lastElementChild;
      this.rows.delete(last.dataset.job);
      last.remove();
    }
    this.updateNote();
  }

  place(job, { flash = false, atTop = false, atEnd = false } = {}) {
    const row = h("tr", { class: `clickable${flash ? " flash" : ""}`, dataset: { job: job.id, state: job.state }, onclick: () => this.onOpen(job.id) },
      h("td", { class: "mono", title: job.id }, `…${job.id.slice(-8)}`),
      h("td", {}, job.name),
      h("td", {}, job.queue),
      h("td", {}, stateBadge(job.state), job.cancelRequested && job.state === "running" ? h("span", { class: "muted small" }, " cancelling") : null),
      h("td", { class: "num" }, `${job.attempt} / ${job.maxAttempts}`),
      h("td", { title: job.createdAt }, relative(job.createdAt)),
      h("td", { title: job.finishedAt ?? "" }, relative(job.finishedAt)));
    const old = this.rows.get(job.id);
    if (old) old.replaceWith(row);
    else if (atTop) this.tbody.prepend(row);
    else if (atEnd) this.tbody.append(row);
    this.rows.set(job.id, row);
  }

  updateNote() {
    this.note.textContent = this.rows.size ? `${number(this.rows.size)} shown` : "No jobs match.";
  }
}

/** The drawer showing one job; `reload()` re-reads it, `actions` post to the API. */
export class JobDetail {
  constructor({ drawer, title, body, close, onError, onChanged }) {
    Object.assign(this, { drawer, title, body, onError, onChanged });
    this.id = null;
    close.addEventListener("click", () => this.hide());
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") this.hide(); });
  }

  hide() { this.drawer.hidden = true; this.id = null; }

  async open(id) {
    this.id = id;
    this.drawer.hidden = false;
    await this.reload();
  }

  async reload() {
    if (!this.id) return;
    try {
      this.render(await api(`/v1/jobs/${this.id}`));
    } catch (error) {
      this.title.textContent = "Job";
      this.body.replaceChildren(h("div", { class: "empty" }, error.message));
    }
  }

  async act(action) {
    try {
      const job = await api(`/v1/jobs/${this.id}/${action}`, { method: "POST" });
      this.render(job);
      this.onChanged(`Job …${job.id.slice(-8)}: ${action === "cancel" ? (job.state === "running" ? "cancellation requested" : "cancelled") : "queued to run again"}`);
    } catch (error) {
      this.onError(error);
    }
  }

  render(job) {
    this.title.replaceChildren(h("span", {}, job.name, " "), stateBadge(job.state));
    const waiting = ["scheduled", "available", "retryable"].includes(job.state);
    const facts = [["id", job.id], ["queue", job.queue], ["attempt", `${job.attempt} of ${job.maxAttempts}`], ["priority", job.priority],
      ["created", job.createdAt], ["run at", job.runAt], ["started", job.startedAt], ["finished", job.finishedAt],
      ["dispatcher", job.dispatcher], ["timeout", job.timeout == null ? null : `${job.timeout} s`], ["unique key", job.uniqueKey],
      ["quotas", job.quotas.join(", ")], ["tags", job.tags.join(", ")]].filter(([, v]) => v != null && v !== "");
    this.body.replaceChildren(...[
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", dataset: { action: "cancel" }, disabled: !(waiting || (job.state === "running" && !job.cancelRequested)), onclick: () => this.act("cancel") }, "Cancel"),
        h("button", { type: "button", dataset: { action: "retry" }, disabled: job.state === "running", onclick: () => this.act("retry") }, "Retry now")),
      h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: k === "id" || k === "dispatcher" ? "mono" : null }, String(v))])),
      job.name === "spool.http" ? httpSummary(job) : null,
      h("div", {}, h("h3", {}, "Payload"), h("pre", { class: "json" }, pretty(job.payload))),
      job.result == null ? null : h("div", {}, h("h3", {}, "Result"), h("pre", { class: "json" }, pretty(job.result))),
      h("div", {}, h("h3", {}, `Errors (${job.errors.length})`), job.errors.length
        ? h("div", { class: "errors" }, ...job.errors.map((e) => h("div", { class: "error-item" },
          h("div", {}, h("strong", {}, `Attempt ${e.attempt}: ${e.name}`), h("span", { class: "muted" }, ` ${e.type} · ${e.at}`)),
          h("div", { class: "message mono" }, e.message))))
        : h("div", { class: "empty" }, "None.")),
    ].filter(Boolean));
  }
}

const pretty = (value) => JSON.stringify(value, null, 2);

// A spool.http job's request line and task, and how its answer came (each failed attempt's
// status is in its error below).
const httpSummary = (job) => {
  const request = job.payload ?? {};
  const hasBody = request.body != null || request.bodyBase64 != null || request.form != null;
  const method = String(request.method ?? (hasBody ? "POST" : "GET")).toUpperCase();
  const answer = job.result;
  return h("div", { class: "http-request" }, h("h3", {}, "HTTP request"),
    h("div", { class: "mono", dataset: { role: "request-line" } }, `${method} ${request.url ?? "(no url)"}`),
    request.task ? h("div", { class: "muted" }, `task ${request.task}`) : null,
    answer && typeof answer.status === "number"
      ? h("div", { dataset: { role: "answer" } }, `answered ${answer.status} in ${answer.milliseconds} ms${answer.truncated ? " (body truncated)" : ""}`)
      : null);
};
