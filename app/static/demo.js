// The demo page: send one image to POST predict?return_input=true and show the answer.
"use strict";

const $ = (id) => document.getElementById(id);
let labels = [];           // class names in class-id order, from model-info
let model = null;          // the model chosen in the picker (models.js); null: the service's default
let previewUrl = null;     // object URL of the last upload, revoked when replaced
let latest = 0;            // number of the newest request: older answers are dropped

function percent(p) {
  return `${(100 * p).toFixed(1)} %`;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function errorMessage(status, body) {
  // FastAPI answers {"detail": "..."} for our errors and {"detail": [{msg, loc}, ...]} for 422.
  let detail = body && body.detail;
  if (Array.isArray(detail)) {
    detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  }
  return `The server rejected the file (HTTP ${status}): ${detail || "no reason given"}`;
}

function renderBars(probabilities, classId) {
  const list = $("bars");
  list.replaceChildren();
  probabilities.forEach((p, i) => {
    const item = document.createElement("li");
    item.className = i === classId ? "top" : "";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = labels[i] || `class ${i}`;
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("aria-hidden", "true");  // the number beside it says the same
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = percent(p);
    item.append(name, track, value);
    list.appendChild(item);
  });
}

// When the service says the image is not a garment, say so plainly instead of naming a class.
function verdict(body) {
  if (body.is_garment !== false) return body.label;
  return body.reason === "no_object" ? "Nothing found in the image" : "This does not look like a garment";
}

function renderPrediction(body, blob) {
  const abstains = body.is_garment === false;
  const score = body.garment_score == null ? "" : ` · garment score ${percent(body.garment_score)}`;
  $("label").textContent = verdict(body);
  $("label").classList.toggle("abstain", abstains);
  $("confidence").textContent = abstains
    ? `(nearest class: ${body.label}, ${percent(body.confidence)})${score}`
    : `${percent(body.confidence)} confident${score}`;
  $("mode").textContent = body.preprocess;
  $("model-input").src = `data:image/png;base64,${body.input_png}`;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(blob);
  $("uploaded").src = previewUrl;
  $("uploaded").onload = (event) => {
    // Tiny images (a 28x28 test image) are shown as sharp pixels, like the model's input.
    event.target.classList.toggle("pixelated", event.target.naturalWidth < 168);
  };
  renderBars(body.probabilities, body.class_id);
  $("result").hidden = false;
}

async function classify(blob, name) {
  const request = ++latest;
  $("error").hidden = true;
  $("status").textContent = `Classifying ${name}…`;
  const form = new FormData();
  form.append("file", blob, name);
  const mode = encodeURIComponent($("preprocess").value);
  let response;
  let body = null;
  try {
    const route = model ? `models/${encodeURIComponent(model)}/predict` : "predict";
    response = await fetch(`${route}?preprocess=${mode}&return_input=true`, { method: "POST", body: form });
    body = await response.json().catch(() => null);
  } catch (error) {
    if (request === latest) {
      $("status").textContent = "";
      showError(`Could not reach the server: ${error.message}`);
    }
    return;
  }
  if (request !== latest) return;
  if (!response.ok) {
    $("status").textContent = "";
    $("result").hidden = true;
    showError(errorMessage(response.status, body));
    return;
  }
  $("status").textContent = body.is_garment === false
    ? `${name}: ${verdict(body)}`
    : `${name}: ${body.label}, ${percent(body.confidence)}`;
  renderPrediction(body, blob);
}

async function classifySample(sample) {
  const response = await fetch(`static/samples/${sample.file}`);
  classify(await response.blob(), sample.file);
}

async function loadModelInfo() {
  try {
    const response = await fetch("model-info");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const info = await response.json();
    labels = info.labels;
    $("model-name").textContent = `Model: ${info.name} version ${info.version}`;
  } catch (error) {
    showError(`The model is not available yet (${error.message}); try again in a moment.`);
  }
}

async function loadSamples() {
  const response = await fetch("static/samples/samples.json");
  if (!response.ok) return;
  const samples = await response.json();
  const box = $("samples");
  for (const sample of samples) {
    const button = document.createElement("button");
    button.type = "button";
    const image = document.createElement("img");
    image.src = `static/samples/${sample.file}`;
    image.alt = "";  // the button's text names it
    const text = document.createElement("span");
    text.textContent = sample.label;
    button.append(image, text);
    button.addEventListener("click", () => classifySample(sample));
    box.appendChild(button);
  }
}

function setUpDropZone() {
  const zone = $("drop-zone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) classify(file, file.name);
  });
}

$("file-input").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) classify(file, file.name);
});
setUpDropZone();
document.addEventListener("demo:model", (event) => {
  ({ name: model, labels } = event.detail);
  $("result").hidden = true;  // the last answer was another model's
});
document.addEventListener("demo:classify", (event) => classify(event.detail.blob, event.detail.name));
loadModelInfo();
loadSamples();
