// What the uploader and the form widget share: the session's ticket, sizes
// and durations as people read them, and one upload drawn as a list item.

import { Srv } from "./srv.js";
import { State } from "./upload.js";

/**
 * A Srv whose ticket comes from the site's session endpoint (POST, CSRF
 * token in a header): the ticket is never in a URL, and it ends at log-out.
 */
export function sessionSrv(endpoint, ticketUrl, csrfToken) {
  let ticket = null;
  const fetchTicket = async () => {
    const response = await fetch(ticketUrl, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`Could not get an upload ticket (HTTP ${response.status}).`);
    return (await response.json()).ticket;
  };
  return new Srv(endpoint, (renew) => {
    if (renew || !ticket) ticket = fetchTicket().catch((err) => {
      ticket = null;
      throw err;
    });
    return ticket;
  });
}

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB": IEC units, as the admin shows them. */
export function formatBytes(n) {
  if (n < 1024) return `${n} ${n === 1 ? "byte" : "bytes"}`;
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return `${n.toFixed(1)} ${UNITS[unit]}`;
}

export function formatDuration(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return "";
  seconds = Math.ceil(seconds);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

const LABELS = {
  [State.QUEUED]: "Waiting", [State.UPLOADING]: "Uploading", [State.PAUSED]: "Paused",
  [State.FINALIZING]: "Saving", [State.COMPLETE]: "Uploaded", [State.DONE]: "Done",
  [State.ERROR]: "Failed", [State.CANCELLED]: "Cancelled",
};

function button(label, action, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `cu-${action}`;
  b.dataset.action = action;
  b.textContent = label;
  b.setAttribute("aria-label", title);
  return b;
}

/**
 * One upload as a list item: name, size, progress bar, percentage, rate,
 * time left, and the buttons its state allows. `announce(text)` speaks
 * state changes and every tenth of progress through the live region.
 */
export class UploadView {
  constructor(upload, announce) {
    this.upload = upload;
    this.announce = announce;
    this.lastTenth = -1;
    this.lastState = null;
    const name = upload.file.name;
    const li = (this.element = document.createElement("li"));
    li.className = "cu-item";
    const head = document.createElement("div");
    head.className = "cu-head";
    this.nameEl = document.createElement("span");
    this.nameEl.className = "cu-name";
    this.nameEl.textContent = name;
    this.sizeEl = document.createElement("span");
    this.sizeEl.className = "cu-size";
    this.sizeEl.textContent = formatBytes(upload.file.size);
    head.append(this.nameEl, this.sizeEl);
    this.bar = document.createElement("progress");
    this.bar.max = Math.max(upload.file.size, 1);
    this.bar.setAttribute("aria-label", `Upload of ${name}`);
    this.status = document.createElement("div");
    this.status.className = "cu-status";
    this.actions = document.createElement("div");
    this.actions.className = "cu-actions";
    this.buttons = {
      pause: button("Pause", "pause", `Pause ${name}`),
      resume: button("Resume", "resume", `Resume ${name}`),
      cancel: button("Cancel", "cancel", `Cancel ${name}`),
      retry: button("Retry", "retry", `Retry ${name}`),
      remove: button("Remove", "remove", `Remove ${name} from the list`),
    };
    this.actions.append(...Object.values(this.buttons));
    li.append(head, this.bar, this.status, this.actions);
    upload.addEventListener("change", () => this.render());
    this.render();
  }

  render() {
    const u = this.upload;
    const size = u.file.size;
    this.element.dataset.state = u.state;
    this.bar.value = size ? u.offset : [State.DONE, State.COMPLETE].includes(u.state) ? 1 : 0;
    const percent = size ? Math.floor((u.offset * 100) / size) : u.state === State.DONE ? 100 : 0;
    const parts = [LABELS[u.state], `${percent}%`];
    if (u.state === State.UPLOADING) {
      const rate = u.rate();
      if (rate) parts.push(`${formatBytes(rate)}/s`);
      const eta = u.eta();
      if (eta !== null) parts.push(`${formatDuration(eta)} left`);
    }
    if (u.state === State.DONE && u.result) parts.push(`saved as ${u.result.path}`);
    if (u.resumedFrom) parts.push(`resumed at ${formatBytes(u.resumedFrom)}`);
    if (u.state === State.ERROR) parts.push(u.error);
    this.status.textContent = parts.join(" · ");
    const shown = {
      pause: [State.QUEUED, State.UPLOADING].includes(u.state),
      resume: u.state === State.PAUSED,
      retry: u.state === State.ERROR,
      cancel: [State.QUEUED, State.UPLOADING, State.PAUSED, State.ERROR, State.COMPLETE]
        .includes(u.state),
      remove: [State.DONE, State.CANCELLED, State.ERROR].includes(u.state),
    };
    for (const [action, b] of Object.entries(this.buttons)) b.hidden = !shown[action];
    this.speak(percent);
  }

  speak(percent) {
    const u = this.upload;
    if (u.state !== this.lastState) {
      this.lastState = u.state;
      const extra = u.state === State.ERROR ? `: ${u.error}` : "";
      this.announce(`${u.file.name}: ${LABELS[u.state].toLowerCase()}${extra}`);
    } else if (u.state === State.UPLOADING && Math.floor(percent / 10) !== this.lastTenth) {
      this.lastTenth = Math.floor(percent / 10);
      this.announce(`${u.file.name}: ${percent}%`);
    }
  }
}

/** A polite live region's text setter, batching bursts into one message. */
export function liveRegion(element) {
  let queued = [];
  let timer = null;
  return (text) => {
    queued.push(text);
    if (timer) return;
    timer = setTimeout(() => {
      element.textContent = queued.slice(-3).join(". ");
      queued = [];
      timer = null;
    }, 400);
  };
}
