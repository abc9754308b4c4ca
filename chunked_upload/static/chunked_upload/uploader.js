// The drop-in uploader: drag and drop or pick files, a queue with a few
// uploads in parallel, each finalized into the chosen folder.
//
// Every element with [data-chunked-uploader] is set up when this module
// loads ({% chunked_uploader %} renders one). Options are data attributes:
// endpoint (the srv.asmx URL), ticketUrl, csrfToken, folder (default "/"),
// folderInput (a selector of an input holding the folder), parallel (2),
// chunkSize (0: the server's default), scope (whose unfinished uploads are
// listed: the endpoint and the user).
// Events on the element: "chunked-upload:done" (detail: the Upload, with
// `result` = {documentId, versionId, path}).

import { State, Upload, pending } from "./upload.js";
import { UploadView, formatBytes, liveRegion, sessionSrv } from "./ui.js";

export class Uploader {
  constructor(root, { srv = null } = {}) {
    const d = root.dataset;
    this.root = root;
    this.srv = srv || sessionSrv(d.endpoint, d.ticketUrl, d.csrfToken);
    this.scope = d.scope || new URL(d.endpoint, location.href).pathname;
    this.parallel = Math.max(1, Number(d.parallel || 2));
    this.chunkSize = Number(d.chunkSize || 0);
    this.uploads = [];
    this.list = root.querySelector(".cu-list");
    this.picker = root.querySelector(".cu-picker");
    this.drop = root.querySelector(".cu-drop");
    this.remembered = root.querySelector(".cu-remembered");
    this.announce = liveRegion(root.querySelector(".cu-live"));
    this.folderInput = d.folderInput ? document.querySelector(d.folderInput) : null;
    this.defaultFolder = d.folder || "/";

    this.picker.addEventListener("change", () => {
      this.add(this.picker.files);
      this.picker.value = ""; // the same file can be picked again
    });
    for (const type of ["dragenter", "dragover"]) {
      this.drop.addEventListener(type, (event) => {
        event.preventDefault();
        this.drop.classList.add("cu-over");
      });
    }
    this.drop.addEventListener("dragleave", () => this.drop.classList.remove("cu-over"));
    this.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      this.drop.classList.remove("cu-over");
      this.add(event.dataTransfer.files);
    });
    this.list.addEventListener("click", (event) => this.act(event));
    root.querySelector(".cu-clear")?.addEventListener("click", () => this.clearFinished());
    this.showRemembered();
    root.uploader = this;
    root.classList.add("cu-ready");
    if (this.picker.files.length) this.picker.dispatchEvent(new Event("change")); // picked early
  }

  get folder() {
    const value = (this.folderInput?.value || this.defaultFolder).trim();
    return value.startsWith("/") ? value : `/${value}`;
  }

  /** Queue files (a FileList or an array of File). */
  add(files) {
    for (const file of files) {
      const upload = new Upload(this.srv, file, {
        folder: this.folder, chunkSize: this.chunkSize, scope: this.scope,
      });
      const view = new UploadView(upload, this.announce);
      view.element.upload = upload;
      this.uploads.push(upload);
      this.list.append(view.element);
      upload.addEventListener("change", () => this.changed(upload));
    }
    this.showRemembered();
    this.pump();
  }

  changed(upload) {
    if (upload.state === State.DONE && !upload.announced) {
      upload.announced = true;
      this.root.dispatchEvent(new CustomEvent("chunked-upload:done", { detail: upload }));
      this.showRemembered();
    }
    if ([State.DONE, State.ERROR, State.PAUSED, State.CANCELLED].includes(upload.state)) {
      this.pump();
    }
  }

  /** Start queued uploads while fewer than `parallel` run. */
  pump() {
    const busy = [State.UPLOADING, State.FINALIZING];
    let running = this.uploads.filter((u) => busy.includes(u.state)).length;
    for (const upload of this.uploads) {
      if (running >= this.parallel) break;
      if (upload.state === State.QUEUED) {
        running++;
        upload.run();
      }
    }
  }

  act(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const item = button.closest(".cu-item");
    const upload = item.upload;
    switch (button.dataset.action) {
      case "pause":
        upload.pause();
        break;
      case "retry":
        upload.folder = this.folder; // the folder chosen now: a refused one may have been fixed
      // falls through
      case "resume":
        upload.state = State.QUEUED;
        upload.dispatchEvent(new Event("change"));
        this.pump();
        break;
      case "cancel":
        upload.cancel().then(() => this.showRemembered());
        break;
      case "remove":
        this.uploads = this.uploads.filter((u) => u !== upload);
        item.remove();
        this.picker.focus();
        break;
    }
  }

  /** Drop finished, cancelled and failed uploads from the list. */
  clearFinished() {
    for (const upload of [...this.uploads]) {
      if ([State.DONE, State.CANCELLED, State.ERROR].includes(upload.state)) {
        this.uploads = this.uploads.filter((u) => u !== upload);
        [...this.list.children].find((li) => li.upload === upload)?.remove();
      }
    }
  }

  /** List uploads left unfinished by an earlier page: pick the file again to resume. */
  showRemembered() {
    if (!this.remembered) return;
    const active = new Set(this.uploads.map((u) => u.handler));
    const left = pending.all().filter((p) => p.scope === this.scope && !active.has(p.handler));
    this.remembered.hidden = left.length === 0;
    const list = this.remembered.querySelector("ul");
    list.replaceChildren(...left.map((p) => {
      const li = document.createElement("li");
      const percent = p.size ? Math.floor(((p.offset || 0) * 100) / p.size) : 0;
      li.textContent = `${p.name} (${formatBytes(p.size)}, ${percent}% sent) `;
      const forget = document.createElement("button");
      forget.type = "button";
      forget.textContent = "Forget";
      forget.setAttribute("aria-label", `Forget the unfinished upload of ${p.name}`);
      forget.addEventListener("click", () => {
        pending.forget(p.handler);
        this.srv.deleteHandler(p.handler).catch(() => {});
        this.showRemembered();
      });
      li.append(forget);
      return li;
    }));
  }
}

for (const root of document.querySelectorAll("[data-chunked-uploader]")) {
  if (!root.uploader) new Uploader(root);
}
