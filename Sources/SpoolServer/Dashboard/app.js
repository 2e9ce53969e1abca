// The dashboard: reads the overview from the API, follows /v1/events, and keeps every section
// current without a reload. Counts and charts cover the whole store (other processes too);
// the event stream adds what this server and its dispatcher do as it happens.
import { api, EventStream, SignedOut } from "./api.js";
import { LineChart, quantile } from "./charts.js";
import { JobDetail, JobList } from "./jobs.js";
import { renderDispatchers, renderMirror, renderQueues, renderQuotas, renderReplication, renderSummary } from "./views.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;

const throughput = new LineChart($("throughput-chart"), $("throughput-legend"),
  [{ name: "completed", color: "--good" }, { name: "discarded", color: "--bad" }, { name: "enqueued", color: "--info" }], { unit: "/s" });
const latency = new LineChart($("latency-chart"), $("latency-legend"),
  [{ name: "wait p50", color: "--info" }, { name: "wait p95", color: "--warn" }, { name: "run p50", color: "--good" }], { unit: " ms" });

let previous = null;        // the last stats, for rates
let waits = [], runs = [];  // latency samples (ms) since the last tick
let refreshing = null, again = false, soon = 0;

function toast(message, bad = false) {
  const element = $("toast");
  element.textContent = message;
  element.style.background = bad ? "var(--bad)" : "";
  element.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { element.hidden = true; }, 3500);
}

function failed(error) {
  if (error instanceof SignedOut) { location.href = "/"; return; }
  toast(error.message, true);
}

const jobs = new JobList({ tbody: $("jobs").tBodies[0], more: $("more"), note: $("jobs-note"), form: $("job-filters"),
  onOpen: (id) => detail.open(id), onError: failed });
const detail = new JobDetail({ drawer: $("detail"), title: $("detail-title"), body: $("detail-body"), close: $("detail-close"),
  onError: failed, onChanged: (message) => { toast(message); refreshSoon(); } });

async function toggleQueue(queue) {
  try {
    await api(`/v1/queues/${encodeURIComponent(queue.name)}/${queue.paused ? "resume" : "pause"}`, { method: "POST" });
    toast(`Queue ${queue.name} ${queue.paused ? "resumed" : "paused"}`);
    await refresh();
  } catch (error) { failed(error); }
}

/** Reads the overview once; overlapping calls fold into one more read. */
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      const [stats, queues, dispatchers, quotas] = await Promise.all(
        ["/v1/stats", "/v1/queues", "/v1/dispatchers", "/v1/quotas"].map((path) => api(path)));
      renderSummary($("summary"), stats);
      renderQueues($("queues").tBodies[0], queues.queues, { onToggle: toggleQueue, onPick: (name) => jobs.showQueue(name) });
      renderDispatchers($("dispatchers"), dispatchers.dispatchers);
      renderQuotas($("quotas"), quotas.quotas);
      renderMirror($("mirror-panel"), stats.mirror);
      renderReplication($("replication-panel"), stats.replication, stats.at);
      $("dispatcher-note").textContent = `${stats.liveDispatchers} live`;
      $("queue-note").textContent = `${queues.queues.length} queue${queues.queues.length === 1 ? "" : "s"}, ${stats.pausedQueues} paused`;
      jobs.setQueues(queues.queues.map((q) => q.name));
      sampleThroughput(stats);
      $("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.ready = "true";
    } catch (error) {
      failed(error);
    }
  })();
  await refreshing;
  refreshing = null;
  if (again) { again = false; return refresh(); }
}

function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = 0; refresh(); }, 400);
}

/**
 * Adds a throughput point: the change of the store's counts since the previous point, over at
 * least most of REFRESH_MS. Refreshes that events trigger in between render the counts but take
 * no sample, so a rate is never computed over a few hundred milliseconds (a steady 5 jobs/s
 * would show as spikes of 30/s).
 */
function sampleThroughput(stats) {
  const now = Date.parse(stats.at);
  const total = (s) => Object.values(s.jobs).reduce((a, b) => a + b, 0);
  if (previous && now - Date.parse(previous.at) < REFRESH_MS * 0.75) return;
  if (previous && now > Date.parse(previous.at)) {
    const seconds = (now - Date.parse(previous.at)) / 1000;
    const rate = (value) => Math.max(0, value) / seconds;
    throughput.add(now, [rate(stats.jobs.completed - previous.jobs.completed), rate(stats.jobs.discarded - previous.jobs.discarded),
      rate(total(stats) - total(previous))]);
  }
  previous = stats;
}

function sampleLatency() {
  latency.add(Date.now(), [quantile(waits, 0.5), quantile(waits, 0.95), quantile(runs, 0.5)]);
  waits = [];
  runs = [];
}

function onEvent(event) {
  const { type, job } = event;
  if (job) {
    jobs.apply(type, job);
    if (type === "job.started" && job.startedAt) {
      waits.push(Date.parse(job.startedAt) - Math.max(Date.parse(job.createdAt), Date.parse(job.runAt)));
    }
    if (type === "job.completed" && job.startedAt && job.finishedAt) runs.push(Date.parse(job.finishedAt) - Date.parse(job.startedAt));
    if (job.id === detail.id) detail.reload();
  }
  if (type === "lagged") { jobs.load(); refresh(); return; }
  if (type !== "subscribed") refreshSoon();
}

function setConnection(state) {
  const pill = $("connection");
  pill.dataset.state = state;
  pill.textContent = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[state];
  if (state === "live") { refresh(); jobs.load(); }
}

function draw() {
  throughput.draw();
  latency.draw();
}

new EventStream(onEvent, setConnection);
refresh();
jobs.load();
setInterval(refresh, REFRESH_MS);
setInterval(() => { sampleLatency(); draw(); }, REFRESH_MS);
window.addEventListener("resize", draw);
draw();
