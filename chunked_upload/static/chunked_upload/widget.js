// The form widget of ChunkedUploadField: the chosen file uploads in the
// background while the user fills in the rest of the form; the form then
// submits only the upload handler's id (and the file's name), never bytes.
// A submit while the upload still runs waits for it, then goes ahead.

import { State, Upload } from "./upload.js";
import { UploadView, liveRegion, sessionSrv } from "./ui.js";

export class UploadField {
  constructor(root) {
    const d = root.dataset;
    this.root = root;
    this.form = root.closest("form");
    this.srv = sessionSrv(d.endpoint, d.ticketUrl, d.csrfToken || csrfToken(this.form));
    this.scope = new URL(d.endpoint, location.href).pathname;
    this.reference = root.querySelector("input.cu-reference");
    this.filename = root.querySelector("input.cu-filename");
    this.picker = root.querySelector("input[type=file]");
    this.list = root.querySelector(".cu-list");
    this.announce = liveRegion(root.querySelector(".cu-live"));
    this.upload = null;
    this.picker.addEventListener("change", () => this.choose(this.picker.files[0]));
    this.list.addEventListener("click", (event) => this.act(event));
    this.form?.addEventListener("submit", (event) => this.submitting(event));
    root.uploadField = this;
    root.classList.add("cu-ready");
    if (this.picker.files.length) this.choose(this.picker.files[0]); // picked early
  }

  choose(file) {
    if (this.upload && this.upload.state !== State.COMPLETE) this.upload.cancel();
    this.reference.value = "";
    this.filename.value = "";
    this.list.replaceChildren();
    if (!file) return;
    const upload = (this.upload = new Upload(this.srv, file, { scope: this.scope }));
    const view = new UploadView(upload, this.announce);
    this.list.append(view.element);
    upload.addEventListener("change", () => {
      if (upload.state === State.COMPLETE) {
        this.reference.value = upload.handler;
        this.filename.value = file.name;
        this.root.dispatchEvent(new CustomEvent("chunked-upload:complete", { detail: upload }));
      }
    });
    upload.run();
  }

  act(event) {
    const action = event.target.closest("button[data-action]")?.dataset.action;
    const upload = this.upload;
    if (!action || !upload) return;
    if (action === "pause") upload.pause();
    if (action === "resume" || action === "retry") upload.run();
    if (action === "cancel") {
      upload.cancel();
      this.reference.value = "";
      this.picker.value = "";
    }
    if (action === "remove") {
      this.list.replaceChildren();
      this.upload = null;
      this.picker.value = "";
    }
  }

  submitting(event) {
    const upload = this.upload;
    if (!upload || ![State.QUEUED, State.UPLOADING, State.PAUSED].includes(upload.state)) return;
    // Not yet: submit once the upload is complete.
    event.preventDefault();
    this.announce("The form will be sent when the upload finishes.");
    this.root.classList.add("cu-waiting");
    if (upload.state === State.PAUSED) upload.run();
    const submitter = event.submitter;
    const go = () => {
      if (upload.state === State.COMPLETE) {
        upload.removeEventListener("change", go);
        this.form.requestSubmit(submitter);
      } else if ([State.ERROR, State.CANCELLED].includes(upload.state)) {
        upload.removeEventListener("change", go);
        this.root.classList.remove("cu-waiting");
      }
    };
    upload.addEventListener("change", go);
  }
}

// The form's own CSRF token ({% csrf_token %}), else Django's cookie.
function csrfToken(form) {
  const input = form?.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

for (const root of document.querySelectorAll("[data-chunked-upload-field]")) {
  if (!root.uploadField) new UploadField(root);
}
